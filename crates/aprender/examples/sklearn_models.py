"""scikit-learn side of bench_models: the same models on the same data.

Usage: python3 sklearn_models.py DATA.csv
Prints the versions, then `sk model=<name> fit_s=<median of 3> predict_rows_per_s=<median>`
per model. Hyper-parameters mirror examples/bench_models.rs.
"""
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore", category=ConvergenceWarning)
BATCH = 1024

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.float32)
x, classes, values = data[:, :-2], data[:, -2].astype(int), data[:, -1]
print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")

models = {
    "linear": (lambda: LinearRegression(), values),
    "ridge": (lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)), values),
    "logistic": (lambda: make_pipeline(StandardScaler(), LogisticRegression()), classes),
    "mlp": (lambda: make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(256, 128), max_iter=10, tol=0.0, n_iter_no_change=10**9,
        random_state=0)), classes),
    "kmeans": (lambda: KMeans(n_clusters=10, n_init=10, random_state=0), None),
}
batch = x[:BATCH]
for name, (make, y) in models.items():
    fits = []
    for _ in range(3):
        model = make()
        t = time.perf_counter()
        model.fit(x, y) if y is not None else model.fit(x)
        fits.append(time.perf_counter() - t)
    for _ in range(5):
        model.predict(batch)
    times, start = [], time.perf_counter()
    while len(times) < 20 or (time.perf_counter() - start < 1.0 and len(times) < 2000):
        t = time.perf_counter()
        model.predict(batch)
        times.append(time.perf_counter() - t)
    print(f"sk model={name} fit_s={np.median(fits):.6f} predict_rows_per_s={BATCH / np.median(times):.1f}")
