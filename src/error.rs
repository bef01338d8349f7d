//! The one library error type.

use std::path::PathBuf;

/// Everything that can go wrong in the library. Data-dependent failures are errors,
/// never panics; a frame in which no lumen is found is *not* an error but a result
/// with a quality flag (see [`crate::report::QualityFlag`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of its allowed range (NaN, zero, negative, too large...).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParam {
        /// Parameter name as in the configuration / command line.
        name: &'static str,
        /// Why it is rejected, including the allowed range.
        reason: String,
    },
    /// A frame has a different size than the pipeline or sampler was built for.
    #[error("frame is {got_rows}x{got_cols} (rows x cols), expected {want_rows}x{want_cols}")]
    FrameShape {
        /// Rows of the frame given.
        got_rows: usize,
        /// Columns of the frame given.
        got_cols: usize,
        /// Rows expected.
        want_rows: usize,
        /// Columns expected.
        want_cols: usize,
    },
    /// A frame is too small (or empty) to be analysed.
    #[error("frame of {rows}x{cols} pixels is too small: {reason}")]
    FrameTooSmall {
        /// Rows of the frame.
        rows: usize,
        /// Columns of the frame.
        cols: usize,
        /// What minimum was violated.
        reason: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An output file or folder could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not a usable image.
    #[error("{path}: not a readable image: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// Input files are inconsistent with each other or with the options given.
    #[error("{path}: {reason}")]
    Input {
        /// The offending file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A JSON / CSV document could not be produced or parsed.
    #[error("{path}: {reason}")]
    Format {
        /// The document.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file uses a format, transfer syntax or pixel layout this build cannot read.
    #[error("{path}: unsupported: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported (and what is).
        reason: String,
    },
    /// Parts of the input disagree with each other: frames of different sizes, a raw file whose
    /// size does not match its sidecar, pixel data shorter or longer than the header says.
    #[error("{path}: {reason}")]
    Inconsistent {
        /// The offending file.
        path: PathBuf,
        /// What is wrong, naming the frame where relevant.
        reason: String,
    },
    /// A calibration read from a file or given for it is missing, NaN, zero or negative.
    #[error("{path}: invalid calibration: {reason}")]
    Calibration {
        /// The file the calibration belongs to.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidParam`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParam { name, reason: reason.into() }
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::param(name, format!("must be a finite number > 0, got {value}")))
    }
}

/// Checks that `value` is finite and within `[lo, hi]`.
pub(crate) fn check_range(name: &'static str, value: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(Error::param(name, format!("must be within [{lo}, {hi}], got {value}")))
    }
}
