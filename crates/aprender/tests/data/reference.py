"""Writes the test datasets (from scikit-learn's bundled copies) and prints
scikit-learn's default-model scores on the committed splits.

    pip install scikit-learn && python3 crates/aprender/tests/data/reference.py

The CSV files are committed; the Rust tests in `tests/sklearn_parity.rs` hold the
figures this prints, with the scikit-learn version, so they run without Python.
"""
import csv
import os
import sys

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, header, x, y):
    with open(os.path.join(HERE, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row, t in zip(x, y):
            w.writerow([repr(float(v)) for v in row] + [t])


def load(name, loader, target, classify):
    d = loader()
    features = [f.replace(" ", "_").replace("(", "").replace(")", "") for f in d.feature_names]
    labels = [d.target_names[t] for t in d.target] if classify else [repr(float(t)) for t in d.target]
    x_tr, x_te, y_tr, y_te = train_test_split(
        d.data, np.array(labels), test_size=0.25, random_state=0,
        stratify=labels if classify else None)
    write(f"{name}.train.csv", features + [target], x_tr, y_tr)
    write(f"{name}.test.csv", features + [target], x_te, y_te)
    return x_tr, x_te, y_tr, y_te


def scaled(x_tr, x_te):
    s = StandardScaler().fit(x_tr)
    return s.transform(x_tr), s.transform(x_te)


print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
for name, loader in [("iris", datasets.load_iris), ("wine", datasets.load_wine),
                     ("breast_cancer", datasets.load_breast_cancer)]:
    x_tr, x_te, y_tr, y_te = load(name, loader, "class", True)
    s_tr, s_te = scaled(x_tr, x_te)
    lr = LogisticRegression().fit(s_tr, y_tr)
    mlp = MLPClassifier(random_state=0, max_iter=500).fit(s_tr, y_tr)
    print(f"{name}: logistic accuracy {accuracy_score(y_te, lr.predict(s_te)):.4f}, "
          f"mlp accuracy {accuracy_score(y_te, mlp.predict(s_te)):.4f}")
    if name == "iris":
        km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(x_tr)
        print(f"iris: kmeans(3) inertia on the raw training features {km.inertia_:.4f}")

x_tr, x_te, y_tr, y_te = load("diabetes", datasets.load_diabetes, "progression", False)
y_tr, y_te = y_tr.astype(float), y_te.astype(float)
s_tr, s_te = scaled(x_tr, x_te)
print(f"diabetes: linear r2 {r2_score(y_te, LinearRegression().fit(x_tr, y_tr).predict(x_te)):.4f}, "
      f"ridge(1.0) r2 {r2_score(y_te, Ridge(alpha=1.0).fit(s_tr, y_tr).predict(s_te)):.4f}, "
      f"mlp r2 {r2_score(y_te, MLPRegressor(random_state=0, max_iter=2000).fit(s_tr, y_tr).predict(s_te)):.4f}")
