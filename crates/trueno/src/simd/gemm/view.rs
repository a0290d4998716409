//! Matrix views: the operands of a product as the maths names them. A view is
//! a logical `rows × cols` matrix over row-major storage with rows `ld` values
//! apart, possibly transposed (then the storage is `cols × rows`), so
//! `sgemm(1.0, x.t(), g, 0.0, w)` reads as `W = Xᵀ G`.

/// A read-only matrix operand.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    ld: usize,
    transposed: bool,
}

impl<'a> MatRef<'a> {
    /// Row-major `rows × cols`, rows contiguous.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> MatRef<'a> {
        MatRef::strided(data, rows, cols, cols)
    }

    /// Row-major `rows × cols` whose rows start `ld` values apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> MatRef<'a> {
        MatRef {
            data,
            rows,
            cols,
            ld,
            transposed: false,
        }
    }

    /// The transpose; no value moves.
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            transposed: !self.transposed,
            ..self
        }
    }

    /// Rows of the matrix as the product sees it.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix as the product sees it.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The stored values.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Distance between stored rows.
    pub fn ld(&self) -> usize {
        self.ld
    }

    /// Whether the stored matrix is the transpose of this one.
    pub fn is_transposed(&self) -> bool {
        self.transposed
    }

    /// (rows, cols) of the stored matrix.
    pub fn stored(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// The value at (`r`, `c`) of the matrix as the product sees it.
    pub fn at(&self, r: usize, c: usize) -> f32 {
        if self.transposed {
            self.data[c * self.ld + r]
        } else {
            self.data[r * self.ld + c]
        }
    }

    /// A contiguous row-major copy of the matrix as the product sees it.
    pub fn to_vec(&self) -> Vec<f32> {
        (0..self.rows)
            .flat_map(|r| (0..self.cols).map(move |c| self.at(r, c)))
            .collect()
    }
}

/// A matrix the product writes: row-major `rows × cols`, rows `ld` apart.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    ld: usize,
}

impl<'a> MatMut<'a> {
    /// Row-major `rows × cols`, rows contiguous.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut::strided(data, rows, cols, cols)
    }

    /// Row-major `rows × cols` whose rows start `ld` values apart.
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, ld: usize) -> MatMut<'a> {
        MatMut {
            data,
            rows,
            cols,
            ld,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance between rows.
    pub fn ld(&self) -> usize {
        self.ld
    }

    /// The stored values.
    pub fn data(&mut self) -> &mut [f32] {
        self.data
    }

    /// The stored values, giving the view up.
    pub fn into_data(self) -> &'a mut [f32] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_view_reads_the_transpose() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
        let v = MatRef::new(&x, 2, 3);
        let t = v.t();
        assert_eq!((t.rows(), t.cols(), t.stored()), (3, 2, (2, 3)));
        assert_eq!(t.to_vec(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(t.t().to_vec(), x);
        let s = MatRef::strided(&x, 2, 2, 3);
        assert_eq!(s.to_vec(), [1.0, 2.0, 4.0, 5.0]);
    }
}
