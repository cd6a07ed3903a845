//! How page data travels: every resource is serialized into the page (for hydration) and every
//! server function answers in JSON. Both are decoded from bytes with `serde_json::from_slice`,
//! so the browser bundle carries one JSON decoder per data type instead of two (leptos's default
//! codec decodes hydration data with `from_str`, server-function answers with `from_slice`; the
//! duplicate cost about 20 KB of the gzipped bundle).

use std::future::Future;

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, decoded with `from_slice` (see the module docs).
pub struct SliceJson;

impl<T: Serialize> codee::Encoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> codee::Decoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource: like `Resource::new`, with the [`SliceJson`] codec.
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, SliceJson>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// A value shared rather than copied: a server function can hand out its cached answer (the
/// dashboard's view of a snapshot, the same for every viewer) without cloning it per request.
/// On the wire it is the value itself.
#[derive(Debug, PartialEq)]
pub struct Shared<T>(pub std::sync::Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Shared<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|v| Shared(std::sync::Arc::new(v)))
    }
}
