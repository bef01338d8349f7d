#![doc = include_str!("../README.md")]
//!
//! # Library example
//!
//! Simulate a phantom frame, analyse it, and check the lumen against its exact truth:
//!
//! ```
//! use truelumen::sim::{PhantomSpec, simulate};
//! use truelumen::{Calibration, Pipeline, PipelineConfig};
//!
//! let phantom = simulate(&PhantomSpec { image_side_px: 256, ..PhantomSpec::default() })?;
//! let mut pipeline = Pipeline::new(PipelineConfig::default())?;
//! let result = pipeline.process(&phantom.cart, Calibration::Cartesian { mm_per_px: phantom.mm_per_px }, 0, "phantom")?;
//! let lumen = result.lumen.expect("the default phantom has a visible lumen");
//! let truth = phantom.truth.lumen_area_mm2;
//! assert!((lumen.area_mm2 - truth).abs() / truth < 0.25, "{} vs {truth}", lumen.area_mm2);
//! # Ok::<(), truelumen::Error>(())
//! ```
#![deny(missing_docs)]
// `!(x > 0.0)` is this crate's deliberate idiom for "reject NaN as well as non-positive values";
// the `partial_cmp` spelling clippy proposes hides that intent.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
// Per-line loops here index several per-line arrays (path, cost rows, samples) at once; an
// index is clearer than zipping four iterators.
#![allow(clippy::needless_range_loop)]

pub mod error;
pub mod filter;
pub mod geometry;
pub mod plane;
pub mod scan;

pub use error::Error;
pub use filter::SpeckleFilter;
pub use geometry::{CartGeometry, PolarGeometry, Rotation};
pub use plane::{CartImage, Plane, PolarImage};
pub mod contour;
pub use contour::Contour;
pub mod io;
pub mod output;
pub mod overlay;
pub mod pipeline;
pub mod report;
pub mod sim;
pub use pipeline::{Calibration, Pipeline, PipelineConfig};
pub mod calcium;
pub mod catheter;
pub mod eval;
pub mod guidance;
pub mod guidewire;
pub mod metrics;
pub mod pullback;
pub mod segment;
pub mod timing;
