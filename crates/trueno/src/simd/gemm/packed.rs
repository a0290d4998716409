//! A right-hand matrix packed once and multiplied many times: a model's
//! weights. Packing B is `k·n` copies per product — at a batch of 64 rows it is
//! a sizeable share of the work — so a layer packs its weights at load time and
//! every forward pass goes straight to the micro-kernels. An [`Epilogue`] adds
//! the bias and applies ReLU to each tile while it is still in L1, instead of
//! two more passes over C.

use super::{Kernel, MatMut, MatRef, NC, Product, k_step, kernel_for, pack, run};
use crate::simd::{Level, level};

/// What to do to each element of C after the product: nothing, add a bias per
/// column, or add it and apply an activation (ReLU: NaN propagates, as in
/// `relu`; GELU: the vector kernels of `simd::gelu_erf` and `simd::gelu`).
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// C as computed.
    None,
    /// `C[i, j] += bias[j]`.
    Bias(&'a [f32]),
    /// `C[i, j] = relu(C[i, j] + bias[j])`.
    BiasRelu(&'a [f32]),
    /// `C[i, j] = gelu_erf(C[i, j] + bias[j])`, the exact GELU.
    BiasGeluErf(&'a [f32]),
    /// `C[i, j] = gelu(C[i, j] + bias[j])`, the tanh form.
    BiasGeluTanh(&'a [f32]),
}

impl<'a> Epilogue<'a> {
    /// Applies to `row`, which holds columns `col0..col0 + row.len()` of C.
    #[inline]
    pub(super) fn apply(self, row: &mut [f32], col0: usize) {
        match self {
            Epilogue::None => {}
            Epilogue::Bias(bias) => {
                let bias = &bias[col0..col0 + row.len()];
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
            Epilogue::BiasRelu(bias) => {
                let bias = &bias[col0..col0 + row.len()];
                for (v, b) in row.iter_mut().zip(bias) {
                    let z = *v + b;
                    // Not `max`: NaN must survive.
                    *v = if z < 0.0 { 0.0 } else { z };
                }
            }
            Epilogue::BiasGeluErf(bias) | Epilogue::BiasGeluTanh(bias) => {
                let bias = &bias[col0..col0 + row.len()];
                let gelu = match self {
                    Epilogue::BiasGeluErf(_) => crate::simd::gelu_erf,
                    _ => crate::simd::gelu,
                };
                // The kernels read and write different slices: a tile row
                // goes through a small buffer that stays in L1.
                let mut z = [0.0f32; 64];
                for (row, bias) in row.chunks_mut(64).zip(bias.chunks(64)) {
                    let z = &mut z[..row.len()];
                    z.iter_mut()
                        .zip(row.iter().zip(bias))
                        .for_each(|(z, (v, b))| *z = v + b);
                    gelu(z, row);
                }
            }
        }
    }

    fn bias(self) -> Option<&'a [f32]> {
        match self {
            Epilogue::None => None,
            Epilogue::Bias(b)
            | Epilogue::BiasRelu(b)
            | Epilogue::BiasGeluErf(b)
            | Epilogue::BiasGeluTanh(b) => Some(b),
        }
    }
}

/// The packed k blocks of one `NC`-column block of B (as `pack::pack_b`
/// lays them out), aligned inside `buf`.
#[derive(Debug, Clone)]
struct Column {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

/// A row-major `k × n` matrix packed for this CPU's GEMM micro-kernel.
///
/// Holds the packed blocks and a row-major copy (products of at most four
/// rows read B unpacked), so it takes twice the matrix's memory.
///
/// ```
/// use trueno::simd::gemm::{Epilogue, MatMut, MatRef, PackedMatrix, sgemm_packed};
/// let w = PackedMatrix::pack(&[1.0, 2.0, 3.0, 4.0], 2, 2);
/// let mut c = [0.0; 2];
/// let x = MatRef::new(&[1.0, -1.0], 1, 2);
/// sgemm_packed(x, &w, MatMut::new(&mut c, 1, 2), Epilogue::BiasRelu(&[0.5, 0.0]));
/// assert_eq!(c, [0.0, 0.0]); // relu([1 − 3 + 0.5, 2 − 4])
/// ```
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    level: Level,
    k: usize,
    n: usize,
    rows: Vec<f32>,
    columns: Vec<Column>,
}

impl PackedMatrix {
    /// Packs row-major `b` (`k × n`) for the GEMM kernel of this CPU's level.
    ///
    /// # Panics
    /// If `b.len() != k · n`.
    pub fn pack(b: &[f32], k: usize, n: usize) -> PackedMatrix {
        PackedMatrix::pack_for(level(), b, k, n)
    }

    /// As [`pack`](Self::pack), for a chosen level (one of `gemm::levels()`;
    /// anything else gets the portable kernel).
    pub fn pack_for(level: Level, b: &[f32], k: usize, n: usize) -> PackedMatrix {
        assert_eq!(b.len(), k * n, "a {k}×{n} matrix needs {} values", k * n);
        let level = super::usable(level);
        let nr = kernel_for(level).nr;
        let columns = (0..n)
            .step_by(NC)
            .map(|jc| {
                let mut buf = Vec::new();
                let packed = pack::pack_b(
                    &mut buf,
                    b,
                    n,
                    false,
                    (k, k_step(k)),
                    (jc, NC.min(n - jc)),
                    nr,
                    false,
                );
                let (at, len) = (packed.as_ptr() as usize, packed.len());
                let start = (at - buf.as_ptr() as usize) / size_of::<f32>();
                Column { buf, start, len }
            })
            .collect();
        PackedMatrix {
            level,
            k,
            n,
            rows: b.to_vec(),
            columns,
        }
    }

    /// Rows (the inner dimension of a product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The row-major matrix it was packed from.
    pub fn as_row_major(&self) -> &[f32] {
        &self.rows
    }

    fn kernel(&self) -> Kernel {
        kernel_for(self.level)
    }

    /// The packed k blocks of the column block starting at `jc`.
    pub(super) fn column(&self, jc: usize) -> &[f32] {
        let col = &self.columns[jc / NC];
        &col.buf[col.start..col.start + col.len]
    }
}

/// `C = A · B`, then `epi` on every element of C, for a row-major (not
/// transposed) `A` of `m × k` and a packed `B`; C (`m × n`) is not read.
/// Accumulation order and error bound are those of `sgemm`.
///
/// # Panics
/// If the shapes do not chain, `a` is a transposed view, a slice is too short
/// for its view, or a bias is shorter than `n`.
pub fn sgemm_packed(a: MatRef<'_>, b: &PackedMatrix, c: MatMut<'_>, epi: Epilogue<'_>) {
    packed_product(a, b, c, epi, false)
}

/// [`sgemm_packed`] on the calling thread only, for callers that split the
/// work across threads themselves (a forward pass splitting its rows).
pub fn sgemm_packed_serial(a: MatRef<'_>, b: &PackedMatrix, c: MatMut<'_>, epi: Epilogue<'_>) {
    packed_product(a, b, c, epi, true)
}

fn packed_product(a: MatRef<'_>, b: &PackedMatrix, c: MatMut<'_>, epi: Epilogue<'_>, serial: bool) {
    if let Some(bias) = epi.bias() {
        assert!(
            bias.len() >= b.n,
            "a bias of {} for {} columns",
            bias.len(),
            b.n
        );
    }
    assert!(!a.is_transposed(), "sgemm_packed reads A's rows in place");
    let packed_b = MatRef::new(&b.rows, b.k, b.n);
    let mut product = Product::of(1.0, a, packed_b, 0.0, &c);
    let (m, lda) = (a.rows(), a.ld());
    if m > 0 && b.k > 0 {
        assert!(
            a.data().len() >= (m - 1) * lda + b.k,
            "A is too short for {m}×{} at stride {lda}",
            b.k
        );
    }
    product.serial = serial;
    let ldc = c.ld().max(1);
    run(b.kernel(), &product, c.into_data(), ldc, Some(b), epi);
}
