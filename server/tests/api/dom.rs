//! Reading a served page the way a person does: by the element that shows a thing (a cell, a
//! row, a heading), never by searching the whole HTML, which also carries the hydration data.

use scraper::{ElementRef, Html, Selector};

/// A parsed page.
pub struct Page(Html);

impl Page {
    pub fn parse(html: &str) -> Page {
        Page(Html::parse_document(html))
    }

    fn selector(css: &str) -> Selector {
        Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e:?}"))
    }

    /// Every element matching `css`.
    pub fn all(&self, css: &str) -> Vec<ElementRef<'_>> {
        self.0.select(&Self::selector(css)).collect()
    }

    /// The one element matching `css` (fails when there is none, or more than one).
    pub fn one(&self, css: &str) -> ElementRef<'_> {
        let found = self.all(css);
        assert_eq!(found.len(), 1, "exactly one `{css}`, found {}", found.len());
        found[0]
    }

    /// The first element matching `css`, if any.
    pub fn first(&self, css: &str) -> Option<ElementRef<'_>> {
        self.0.select(&Self::selector(css)).next()
    }

    /// The text of the one element matching `css`, whitespace folded.
    pub fn text(&self, css: &str) -> String {
        text(self.one(css))
    }

    /// An attribute of the one element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.one(css).value().attr(name).map(str::to_owned)
    }
}

/// An element's text, whitespace folded.
pub fn text(el: ElementRef<'_>) -> String {
    el.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The elements matching `css` inside `el`.
pub fn inside<'a>(el: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    el.select(&Page::selector(css)).collect()
}
