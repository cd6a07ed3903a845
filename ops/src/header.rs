//! What every page's header shows, beyond the page itself: the open incidents, who is on call,
//! who is scheduled but not ready. Live pages compare its fingerprint with the one they drew.

use crate::incidents::OpenIncident;
use crate::oncall::HeaderState;

/// What every page's header shows (the open incidents, who is on call, who is not ready), as
/// one number that changes when any of it does: live pages compare it with the one they drew
/// and read the header again when it differs. The same on every replica for the same header.
pub fn fingerprint(open: &[OpenIncident], header: &HeaderState) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same header hashes the same in every process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for o in open {
        (&o.id, &o.title, &o.owner, o.status.as_str()).hash(&mut h);
    }
    // Everything but when it was last refreshed.
    format!("{:?}", header.now).hash(&mut h);
    header.not_ready.hash(&mut h);
    h.finish()
}
