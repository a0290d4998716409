//! `KMeans`: k-means++ seeding, Lloyd iterations, the best of several restarts.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use rayon::prelude::*;
use trueno::{Backend, MatRef};

use crate::compute::gemm;
use crate::estimator::model_settings;
use crate::format::{Codec, Reader, Writer};
use crate::meta::start_fit;
use crate::{AprenderError, Estimator, FileProblem, Matrix, ModelMeta};

/// k-means clustering with scikit-learn's defaults: greedy k-means++ seeding
/// (`2 + ln k` candidates per centre), up to 300 Lloyd iterations stopping when
/// the centres move less than `tol × mean feature variance`, and the lowest
/// inertia of `n_init = 10` seeded restarts, run in parallel. The distance matrix
/// `‖x‖² − 2·x·c + ‖c‖²` is one trueno matmul per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    backend: Backend,
    standardize: bool,
    fitted: Option<KMeansFit>,
}

#[derive(Debug, Clone, PartialEq)]
struct KMeansFit {
    /// `k × features`, row-major.
    centers: Vec<f32>,
    inertia: f64,
    iterations: usize,
    meta: ModelMeta,
}

model_settings!(KMeans, KMeansFit, "kmeans");

impl KMeans {
    /// An unfitted model of `k` clusters (`k ≥ 1`).
    pub fn new(k: usize) -> Result<KMeans, AprenderError> {
        if k == 0 {
            return Err(AprenderError::InvalidParameter {
                name: "k",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        Ok(KMeans {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            backend: Backend::Simd,
            standardize: false,
            fitted: None,
        })
    }

    /// Seed of the k-means++ draws; the same seed gives the same clustering.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of restarts (at least 1); the lowest inertia wins.
    pub fn n_init(mut self, n_init: usize) -> Result<Self, AprenderError> {
        if n_init == 0 {
            return Err(AprenderError::InvalidParameter {
                name: "n_init",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        self.n_init = n_init;
        Ok(self)
    }

    /// The centres, `k × features` row-major (in scaled units when standardising).
    pub fn centers(&self) -> Option<&[f32]> {
        self.fitted.as_ref().map(|f| f.centers.as_slice())
    }

    /// Sum of squared distances of the training rows to their centres.
    pub fn inertia(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.inertia)
    }

    /// Lloyd iterations of the winning restart.
    pub fn iterations(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.iterations)
    }
}

/// Nearest centre and squared distance for every row.
fn assign(
    backend: Backend,
    x: &Matrix,
    centers: &[f32],
    k: usize,
) -> Result<(Vec<usize>, Vec<f64>), AprenderError> {
    let (n, d) = (x.rows(), x.cols());
    let mut cross = vec![0.0f32; n * k];
    // cross = X · Cᵀ
    let (xv, cv) = (MatRef::new(x.as_slice(), n, d), MatRef::new(centers, k, d));
    gemm(backend, xv, cv.t(), &mut cross)?;
    let c_norm: Vec<f32> = centers
        .chunks_exact(d)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let mut labels = Vec::with_capacity(n);
    let mut dist = Vec::with_capacity(n);
    for i in 0..n {
        let x_norm: f32 = x.row(i).iter().map(|v| v * v).sum();
        let (best, d2) = (0..k)
            .map(|c| (c, (x_norm - 2.0 * cross[i * k + c] + c_norm[c]).max(0.0)))
            .fold(
                (0, f32::INFINITY),
                |b, (c, v)| if v < b.1 { (c, v) } else { b },
            );
        labels.push(best);
        dist.push(f64::from(d2));
    }
    Ok((labels, dist))
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// Greedy k-means++: each new centre is the best (lowest potential) of a few
/// rows drawn with probability proportional to their squared distance.
fn seed_centers(x: &Matrix, k: usize, rng: &mut SmallRng) -> Vec<f32> {
    let n = x.rows();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centers = x.row(rng.random_range(0..n)).to_vec();
    let mut closest: Vec<f64> = (0..n)
        .map(|i| squared_distance(x.row(i), &centers))
        .collect();
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.random::<f64>() * total;
                closest
                    .iter()
                    .position(|&d| {
                        target -= d;
                        target < 0.0
                    })
                    .unwrap_or(n - 1)
            } else {
                rng.random_range(0..n)
            };
            let updated: Vec<f64> = (0..n)
                .map(|i| closest[i].min(squared_distance(x.row(i), x.row(candidate))))
                .collect();
            let potential: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|b| potential < b.0) {
                best = Some((potential, candidate, updated));
            }
        }
        let (_, chosen, updated) = best.expect("at least two trials");
        centers.extend_from_slice(x.row(chosen));
        closest = updated;
    }
    centers
}

impl KMeans {
    /// One restart: seed, then Lloyd until the centres settle.
    fn run(
        &self,
        x: &Matrix,
        tol: f64,
        rng: &mut SmallRng,
    ) -> Result<(Vec<f32>, f64, usize), AprenderError> {
        let (n, d, k) = (x.rows(), x.cols(), self.k);
        let mut centers = seed_centers(x, k, rng);
        for iter in 1..=self.max_iter {
            let (labels, dist) = assign(self.backend, x, &centers, k)?;
            let mut sums = vec![0.0f64; k * d];
            let mut counts = vec![0usize; k];
            for (i, &c) in labels.iter().enumerate() {
                counts[c] += 1;
                sums[c * d..(c + 1) * d]
                    .iter_mut()
                    .zip(x.row(i))
                    .for_each(|(s, &v)| *s += f64::from(v));
            }
            let mut next = vec![0.0f32; k * d];
            for c in 0..k {
                if counts[c] == 0 {
                    // An empty cluster takes the row farthest from its centre.
                    let far = (0..n)
                        .max_by(|&a, &b| dist[a].total_cmp(&dist[b]))
                        .expect("rows");
                    next[c * d..(c + 1) * d].copy_from_slice(x.row(far));
                    continue;
                }
                for j in 0..d {
                    next[c * d + j] = (sums[c * d + j] / counts[c] as f64) as f32;
                }
            }
            let shift: f64 = (0..k)
                .map(|c| squared_distance(&next[c * d..(c + 1) * d], &centers[c * d..(c + 1) * d]))
                .sum();
            centers = next;
            if shift <= tol {
                let inertia = assign(self.backend, x, &centers, k)?.1.iter().sum();
                return Ok((centers, inertia, iter));
            }
        }
        let inertia = assign(self.backend, x, &centers, k)?.1.iter().sum();
        Ok((centers, inertia, self.max_iter))
    }
}

impl Estimator for KMeans {
    /// `y` is ignored (pass `&[]`).
    fn fit(&mut self, x: &Matrix, _y: &[f32]) -> Result<(), AprenderError> {
        let (meta, x) = start_fit(x, self.standardize, 0)?;
        if x.rows() < self.k {
            return Err(AprenderError::InvalidInput(format!(
                "{} clusters need at least {} rows, got {}",
                self.k,
                self.k,
                x.rows()
            )));
        }
        let mean_variance = {
            let s = crate::StandardScaler::fit(&x)?;
            let d = x.cols();
            (0..d)
                .map(|j| {
                    let m = f64::from(s.mean()[j]);
                    (0..x.rows())
                        .map(|i| (f64::from(x.row(i)[j]) - m).powi(2))
                        .sum::<f64>()
                        / x.rows() as f64
                })
                .sum::<f64>()
                / d as f64
        };
        // Restarts are independent: each gets its own seed, drawn in order from
        // the model's, and they run in parallel. The lowest inertia wins (the
        // earliest restart on a tie), so the result does not depend on threads.
        let mut seeds = SmallRng::seed_from_u64(self.seed);
        let seeds: Vec<u64> = (0..self.n_init).map(|_| seeds.random()).collect();
        let tol = self.tol * mean_variance;
        let runs = seeds
            .par_iter()
            .map(|&seed| self.run(&x, tol, &mut SmallRng::seed_from_u64(seed)))
            .collect::<Result<Vec<_>, _>>()?;
        let (centers, inertia, iterations) = runs
            .into_iter()
            .reduce(|best, run| if run.1 < best.1 { run } else { best })
            .expect("n_init ≥ 1");
        self.fitted = Some(KMeansFit {
            centers,
            inertia,
            iterations,
            meta,
        });
        Ok(())
    }

    /// The nearest centre's index for every row.
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        let fit = self.fitted()?;
        let x = fit.meta.prepare(x)?;
        let (labels, _) = assign(self.backend, &x, &fit.centers, self.k)?;
        Ok(labels.into_iter().map(|c| c as f32).collect())
    }

    /// Minus the inertia of `x` against the fitted centres (`y` is ignored).
    fn score(&self, x: &Matrix, _y: &[f32]) -> Result<f64, AprenderError> {
        let fit = self.fitted()?;
        let x = fit.meta.prepare(x)?;
        Ok(-assign(self.backend, &x, &fit.centers, self.k)?
            .1
            .iter()
            .sum::<f64>())
    }
}

impl Codec for KMeans {
    const KINDS: &'static [&'static str] = &["kmeans"];
    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
        let fit = self.fitted()?;
        fit.meta.encode(w);
        w.meta("inertia", fit.inertia.to_string());
        let d = fit.meta.features.len();
        w.tensor("centers", &[self.k, d], &fit.centers);
        Ok(())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
        let d = r.name_list("features")?.len();
        let k = match r.shape("centers")?[..] {
            [k, cols] if k > 0 && cols == d => k,
            ref other => {
                return Err(FileProblem::WrongShape {
                    name: "centers".into(),
                    found: other.to_vec(),
                    expected: vec![other.first().copied().unwrap_or(1).max(1), d],
                });
            }
        };
        let centers = r.tensor("centers", &[k, d])?;
        let inertia: f64 = r.number("inertia", "a non-negative number")?;
        let meta = ModelMeta::decode(r, d, 0)?;
        Ok(KMeans {
            standardize: meta.scaler.is_some(),
            fitted: Some(KMeansFit {
                centers,
                inertia,
                iterations: 0,
                meta,
            }),
            ..KMeans::new(k).expect("k > 0")
        })
    }
}
