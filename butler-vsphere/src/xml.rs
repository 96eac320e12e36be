//! vim25 answers as a small tree, read with quick-xml's pull parser; and
//! text escaped for the requests Butler writes.
//!
//! Names are kept without their namespace prefix (`soapenv:Body` is
//! `Body`); of the attributes only `type` (a managed object reference's
//! type) and `xsi:type` (the concrete type of a polymorphic value) are
//! kept, as vim25 answers need no others.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One element: its local name, the two attributes vim25 uses, its text
/// and its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Local name (`returnval`).
    pub name: String,
    /// `type="…"` (the type of a managed object reference).
    pub ty: Option<String>,
    /// `xsi:type="…"` (the concrete type of a polymorphic value).
    pub xsi_type: Option<String>,
    /// Text content (trimmed of nothing: vim25 text is exact).
    pub text: String,
    /// Child elements, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The node at `path` of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, p| n.child(p))
    }

    /// The text at `path` (empty when absent).
    pub fn text_at(&self, path: &[&str]) -> &str {
        self.at(path).map_or("", |n| n.text.as_str())
    }

    /// The number at `path`, if there is one.
    pub fn number_at(&self, path: &[&str]) -> Option<i64> {
        self.at(path).and_then(|n| n.text.trim().parse().ok())
    }
}

impl Node {
    /// The element written back as XML, its `type` and `xsi:type` kept
    /// (how a device read is sent back to be edited or removed).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        if let Some(t) = &self.ty {
            out.push_str(&format!(" type=\"{}\"", escape(t)));
        }
        if let Some(t) = &self.xsi_type {
            out.push_str(&format!(" xsi:type=\"{}\"", escape(t)));
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for c in &self.children {
            c.write(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Sets the text of child `name` (added last when absent).
    pub fn set(&mut self, name: &str, text: &str) {
        match self.children.iter_mut().find(|c| c.name == name) {
            Some(c) => c.text = text.to_string(),
            None => self.children.push(Node {
                name: name.to_string(),
                text: text.to_string(),
                ..Node::default()
            }),
        }
    }

    /// Removes every child named `name`.
    pub fn remove(&mut self, name: &str) {
        self.children.retain(|c| c.name != name);
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable XML from vCenter: {0}")]
pub struct XmlError(pub String);

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Node, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let decoder = reader.decoder();
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Node, XmlError> {
        let mut node = Node {
            name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
            ..Node::default()
        };
        for a in e.attributes() {
            let a = a.map_err(|e| XmlError(e.to_string()))?;
            let value = a
                .decode_and_unescape_value(decoder)
                .map_err(|e| XmlError(e.to_string()))?
                .into_owned();
            match a.key.as_ref() {
                b"type" => node.ty = Some(value),
                k if k.ends_with(b":type") => node.xsi_type = Some(value),
                _ => {}
            }
        }
        Ok(node)
    };
    loop {
        match reader.read_event().map_err(|e| XmlError(e.to_string()))? {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let node = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| XmlError("a closing tag without its opening".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    let text = t.decode().map_err(|e| XmlError(e.to_string()))?;
                    n.text.push_str(
                        &quick_xml::escape::unescape(&text).map_err(|e| XmlError(e.to_string()))?,
                    );
                }
            }
            Event::CData(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(n) = stack.last_mut() {
                    let reference = format!("&{};", String::from_utf8_lossy(&r));
                    let text = quick_xml::escape::unescape(&reference)
                        .map_err(|e| XmlError(e.to_string()))?;
                    n.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("the document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError("no element".into()))
}

/// `text` escaped for an element's content or an attribute.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_reads_as_its_tree_with_types_and_unescaped_text() {
        let doc = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="s" xmlns:xsi="x"><soapenv:Body>
            <r><obj type="VirtualMachine">vm-1</obj><val xsi:type="xsd:string">a &amp; b &lt;c&gt;</val><e/></r>
            </soapenv:Body></soapenv:Envelope>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let r = root.at(&["Body", "r"]).unwrap();
        assert_eq!(
            r.child("obj").unwrap().ty.as_deref(),
            Some("VirtualMachine")
        );
        assert_eq!(r.text_at(&["obj"]), "vm-1");
        assert_eq!(
            r.child("val").unwrap().xsi_type.as_deref(),
            Some("xsd:string")
        );
        assert_eq!(r.text_at(&["val"]), "a & b <c>");
        assert!(r.child("e").is_some());
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
    }
}
