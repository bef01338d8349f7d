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
pub mod io;
pub mod output;
pub mod overlay;
pub mod pipeline;
pub mod report;
pub mod sim;
pub use pipeline::{Calibration, Pipeline, PipelineConfig};
pub mod catheter;
pub mod eval;
pub mod guidewire;
pub mod metrics;
pub mod segment;
