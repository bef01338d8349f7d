//! Row-major 2-D pixel buffers used for both polar and Cartesian frames.
//!
//! A [`Plane`] is `rows x cols` values stored row by row. For a *polar* frame rows are
//! A-lines (angle) and columns are samples (depth from the transducer); for a *Cartesian*
//! frame rows go down the displayed image and columns go right. Intensities are `f32` on the
//! scale of the input (0–255 for 8-bit input; 16-bit input is rescaled to 0–255).

use crate::Error;
use ndarray::{ArrayView2, ArrayViewMut2};

/// A row-major 2-D buffer of `rows x cols` values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plane<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

/// A polar frame: rows = A-lines (by angle), columns = samples (by depth).
pub type PolarImage = Plane<f32>;
/// A Cartesian frame: rows go down the displayed image, columns go right.
pub type CartImage = Plane<f32>;

impl<T: Copy + Default> Plane<T> {
    /// A plane of `rows x cols` default values (zeros).
    #[must_use]
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self { rows, cols, data: vec![T::default(); rows * cols] }
    }

    /// A plane filled by `f(row, col)`.
    #[must_use]
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Self { rows, cols, data }
    }

    /// Wraps a row-major vector.
    ///
    /// # Errors
    /// [`Error::FrameShape`] if `data.len() != rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self, Error> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::FrameShape { got_rows: data.len(), got_cols: 1, want_rows: rows, want_cols: cols });
        }
        Ok(Self { rows, cols, data })
    }

    /// Resizes to `rows x cols`, reusing the allocation when it is large enough.
    /// Contents are unspecified afterwards (callers overwrite them).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, T::default());
    }

    /// Sets every value to `v`.
    pub fn fill(&mut self, v: T) {
        self.data.fill(v);
    }
}

impl<T> Plane<T> {
    /// Number of rows (A-lines for a polar frame).
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns (samples for a polar frame).
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// The row-major data.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }
    /// The row-major data, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// Consumes the plane and returns its data.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
    /// One row.
    #[inline]
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
    /// One row, mutable.
    #[inline]
    pub fn row_mut(&mut self, r: usize) -> &mut [T] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }
    /// Value at `(row, col)`.
    ///
    /// # Panics
    /// If out of bounds.
    #[inline]
    pub fn get(&self, r: usize, c: usize) -> &T {
        &self.data[r * self.cols + c]
    }
    /// Mutable value at `(row, col)`.
    ///
    /// # Panics
    /// If out of bounds.
    #[inline]
    pub fn get_mut(&mut self, r: usize, c: usize) -> &mut T {
        &mut self.data[r * self.cols + c]
    }
    /// A zero-copy `ndarray` view `(rows, cols)`.
    pub fn view(&self) -> ArrayView2<'_, T> {
        // The shape always matches the data length (enforced by every constructor).
        ArrayView2::from_shape((self.rows, self.cols), &self.data)
            .unwrap_or_else(|_| unreachable!("plane shape invariant"))
    }
    /// A zero-copy mutable `ndarray` view `(rows, cols)`.
    pub fn view_mut(&mut self) -> ArrayViewMut2<'_, T> {
        ArrayViewMut2::from_shape((self.rows, self.cols), &mut self.data)
            .unwrap_or_else(|_| unreachable!("plane shape invariant"))
    }
}

impl Plane<f32> {
    /// Mean of all values (0 for an empty plane).
    pub fn mean(&self) -> f32 {
        if self.data.is_empty() {
            return 0.0;
        }
        (self.data.iter().map(|&v| v as f64).sum::<f64>() / self.data.len() as f64) as f32
    }

    /// Converts to an 8-bit grey image, clamping to 0–255.
    pub fn to_gray_image(&self) -> image::GrayImage {
        let buf: Vec<u8> = self.data.iter().map(|&v| v.clamp(0.0, 255.0).round() as u8).collect();
        image::GrayImage::from_raw(self.cols as u32, self.rows as u32, buf)
            .unwrap_or_else(|| unreachable!("plane shape invariant"))
    }

    /// Converts an 8-bit grey image.
    pub fn from_gray_image(img: &image::GrayImage) -> Self {
        let (w, h) = img.dimensions();
        Self { rows: h as usize, cols: w as usize, data: img.as_raw().iter().map(|&v| v as f32).collect() }
    }
}
