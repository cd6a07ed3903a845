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

/// JSON that is safe inside a `<script>` element: no `<` (so no `</script>` or `<!--`), and no
/// `>` or `&`, whatever a name from an identity provider or a host tag holds.
#[cfg(feature = "ssr")]
pub fn script_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .inspect_err(|e| tracing::error!(error = %e, "cannot write a page's data as JSON"))
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// What a page's `<script type="application/json">` holds: on the server, `value` as
/// [`script_json`]; in the browser nothing, since the element is hydrated rather than written
/// and keeps what the server put in it (read it with [`embedded`]).
pub fn embed<T: Serialize>(value: &T) -> String {
    #[cfg(feature = "ssr")]
    return script_json(value);
    #[cfg(not(feature = "ssr"))]
    {
        let _ = value;
        String::new()
    }
}

/// Data the server wrote into the page as `<script type="application/json" id=ID>` (see
/// [`script_json`]), read back in the browser while it hydrates that page. A page hands its
/// first state over this way when the state is known at once on the server: no resource, no
/// Suspense boundary, and only what the browser cannot read from the markup itself.
#[cfg(not(feature = "ssr"))]
pub fn embedded<T: DeserializeOwned>(id: &str) -> Result<T, String> {
    let text = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.text_content())
        .ok_or_else(|| format!("the page carries no {id} data: reload it"))?;
    serde_json::from_slice(text.as_bytes())
        .map_err(|e| format!("the page's {id} data is unreadable ({e}): reload it"))
}

/// Whether the browser is hydrating the page the server rendered (rather than drawing a page
/// it navigated to by itself). Always false on the server.
pub fn hydrating() -> bool {
    cfg!(not(feature = "ssr"))
        && Owner::current_shared_context().is_some_and(|c| c.during_hydration())
}

/// A value shared rather than copied: a server function can hand out its cached answer (the
/// dashboard's view of a snapshot, the same for every viewer) without cloning it per request.
/// On the wire it is the value itself. On the server it can also carry the value's JSON, written
/// once with the value: every answer that sends it then copies text instead of serializing again.
/// That JSON is a `serde_json` raw value, so it is written right by `serde_json` only: the server
/// functions that return a `Shared` answer in JSON (their default).
pub struct Shared<T> {
    value: std::sync::Arc<T>,
    #[cfg(feature = "ssr")]
    json: Option<std::sync::Arc<serde_json::value::RawValue>>,
}

impl<T> Shared<T> {
    pub fn new(value: std::sync::Arc<T>) -> Self {
        Shared {
            value,
            #[cfg(feature = "ssr")]
            json: None,
        }
    }
}

#[cfg(feature = "ssr")]
impl<T: Serialize> Shared<T> {
    /// The value with its JSON, written now.
    pub fn with_json(value: std::sync::Arc<T>) -> Result<Self, serde_json::Error> {
        let json = serde_json::value::to_raw_value(&*value)?;
        Ok(Shared {
            value,
            json: Some(json.into()),
        })
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            value: self.value.clone(),
            #[cfg(feature = "ssr")]
            json: self.json.clone(),
        }
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "ssr")]
        if let Some(json) = &self.json {
            return json.serialize(serializer);
        }
        self.value.serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Shared<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|v| Shared::new(std::sync::Arc::new(v)))
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::Shared;
    use std::sync::Arc;

    #[test]
    fn a_shared_value_with_its_json_is_the_same_on_the_wire_and_reads_back() {
        let value = Arc::new(vec![("a\"<".to_owned(), 1u32), ("b".to_owned(), 2)]);
        let plain = serde_json::to_string(&Shared::new(value.clone())).unwrap();
        let cached = serde_json::to_string(&Shared::with_json(value.clone()).unwrap()).unwrap();
        assert_eq!(plain, serde_json::to_string(&*value).unwrap());
        assert_eq!(cached, plain);
        let back: Shared<Vec<(String, u32)>> = serde_json::from_str(&cached).unwrap();
        assert_eq!(*back, *value);
        // Inside a Result (a server function's answer, a resource's hydration data) as well.
        let ok: Result<Shared<Vec<(String, u32)>>, String> = Ok(Shared::with_json(value).unwrap());
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            format!("{{\"Ok\":{plain}}}")
        );
    }
}
