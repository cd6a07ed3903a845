//! The on-call team: the 72-hour rotation and its overrides, who is on call now (from Onwatch's
//! own rotation or from PagerDuty), the iCal feeds, and the handoff summary at each shift's end.

pub mod rotation;

pub use rotation::{Cover, Rotation, RotationOptions, Seat, Segment, Shift};
