#![doc = "truelumen: IVUS analysis for BTK CTO parallel wiring (see README)."]
#![deny(missing_docs)]

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
pub mod report;
pub mod pipeline;
pub use pipeline::{Calibration, Pipeline, PipelineConfig};
