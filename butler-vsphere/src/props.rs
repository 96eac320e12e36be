//! Reading properties through the PropertyCollector: `RetrievePropertiesEx`
//! a page of `page_size` objects at a time and, while an answer carries a
//! token, `ContinueRetrievePropertiesEx` (a real vCenter pages large
//! results; vcsim answers in one piece). Every object of a type under a
//! container is reached through a `ContainerView`, destroyed after.

use crate::error::VsphereError;
use crate::soap::{MoRef, Soap};
use crate::xml::{escape, Node};
use butler_core::backend::ErrorKind;
use std::collections::BTreeMap;

/// One object and the properties read of it (each the `val` element, its
/// `xsi:type` telling the value's type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// The object.
    pub obj: Option<MoRef>,
    /// Properties by path (`config.hardware.numCPU`).
    pub props: BTreeMap<String, Node>,
}

impl Object {
    /// The object's reference (present on every object read).
    pub fn moref(&self) -> MoRef {
        self.obj.clone().unwrap_or_else(|| MoRef::new("", ""))
    }

    /// The property's value node.
    pub fn prop(&self, path: &str) -> Option<&Node> {
        self.props.get(path)
    }

    /// The property as text (empty when absent).
    pub fn text(&self, path: &str) -> &str {
        self.prop(path).map_or("", |n| n.text.as_str())
    }

    /// The property as a number.
    pub fn number(&self, path: &str) -> Option<i64> {
        self.prop(path).and_then(|n| n.text.trim().parse().ok())
    }

    /// The property as a reference.
    pub fn reference(&self, path: &str) -> Option<MoRef> {
        self.prop(path).and_then(MoRef::of)
    }

    /// The property as a list of references (`ArrayOfManagedObjectReference`).
    pub fn references(&self, path: &str) -> Vec<MoRef> {
        self.prop(path)
            .map(|n| n.children.iter().filter_map(MoRef::of).collect())
            .unwrap_or_default()
    }
}

/// The objects of one answer page and the token of the next, if any
/// (`RetrieveResult`: `token`, then `objects`).
pub fn read_page(returnval: &Node) -> (Vec<Object>, Option<String>) {
    let token = returnval
        .child("token")
        .map(|t| t.text.clone())
        .filter(|t| !t.is_empty());
    let objects = returnval
        .all("objects")
        .map(|o| Object {
            obj: o.child("obj").and_then(MoRef::of),
            props: o
                .all("propSet")
                .filter_map(|p| Some((p.text_at(&["name"]).to_string(), p.child("val")?.clone())))
                .collect(),
        })
        .collect();
    (objects, token)
}

fn prop_set(ty: &str, paths: &[&str]) -> String {
    let paths: String = paths
        .iter()
        .map(|p| format!("<pathSet>{}</pathSet>", escape(p)))
        .collect();
    format!("<propSet><type>{}</type>{paths}</propSet>", escape(ty))
}

impl Soap {
    /// Every object the spec selects, over as many pages as vCenter
    /// serves; at most `most` objects (more is an error, not memory).
    async fn retrieve(
        &self,
        spec: &str,
        page_size: u32,
        most: usize,
    ) -> Result<Vec<Object>, VsphereError> {
        let pc = self.service().await?.property_collector.clone();
        let args = format!("{spec}<options><maxObjects>{page_size}</maxObjects></options>");
        let first = self.call("RetrievePropertiesEx", &pc, &args, true).await?;
        let mut out = Vec::new();
        let mut token = match first.child("returnval") {
            None => return Ok(out),
            Some(rv) => {
                let (objects, token) = read_page(rv);
                out.extend(objects);
                token
            }
        };
        while let Some(t) = token.take() {
            if out.len() > most {
                // Tell vCenter to drop the rest of the result.
                let _ = self
                    .call(
                        "CancelRetrievePropertiesEx",
                        &pc,
                        &format!("<token>{}</token>", escape(&t)),
                        false,
                    )
                    .await;
                return Err(VsphereError::new(
                    ErrorKind::Permanent,
                    format!("vCenter lists more than {most} objects"),
                ));
            }
            let next = self
                .call(
                    "ContinueRetrievePropertiesEx",
                    &pc,
                    &format!("<token>{}</token>", escape(&t)),
                    true,
                )
                .await?;
            if let Some(rv) = next.child("returnval") {
                let (objects, more) = read_page(rv);
                out.extend(objects);
                token = more;
            }
        }
        Ok(out)
    }

    /// Properties `paths` of every object of type `ty` under `container`
    /// (a folder, datacenter or cluster; recursively).
    pub async fn objects(
        &self,
        container: &MoRef,
        ty: &str,
        paths: &[&str],
        page_size: u32,
        most: usize,
    ) -> Result<Vec<Object>, VsphereError> {
        let logins = self.logins();
        match self
            .objects_once(container, ty, paths, page_size, most)
            .await
        {
            // The session ended while the list was read: its view went
            // with it. Once more, in the new session.
            Err(e) if e.kind == ErrorKind::NotFound && self.logins() > logins => {
                tracing::info!(error = %e, "the session ended during a list; reading it again");
                self.objects_once(container, ty, paths, page_size, most)
                    .await
            }
            other => other,
        }
    }

    async fn objects_once(
        &self,
        container: &MoRef,
        ty: &str,
        paths: &[&str],
        page_size: u32,
        most: usize,
    ) -> Result<Vec<Object>, VsphereError> {
        let vm = self.service().await?.view_manager.clone();
        let args = format!(
            "{}<type>{}</type><recursive>true</recursive>",
            container.xml("container"),
            escape(ty)
        );
        // Safe to send again: a view made twice only lives on, unused,
        // until the session ends.
        let view = self.call("CreateContainerView", &vm, &args, true).await?;
        let view = view.child("returnval").and_then(MoRef::of).ok_or_else(|| {
            VsphereError::new(ErrorKind::Permanent, "CreateContainerView answered no view")
        })?;
        let spec = format!(
            "<specSet>{}<objectSet>{}<skip>true</skip>\
             <selectSet xsi:type=\"TraversalSpec\"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet>\
             </objectSet></specSet>",
            prop_set(ty, paths),
            view.xml("obj")
        );
        let found = self.retrieve(&spec, page_size, most).await;
        // A view holds server memory until destroyed; losing this call
        // only leaves it to the session's end.
        if let Err(e) = self.call("DestroyView", &view, "", false).await {
            tracing::debug!(error = %e, "DestroyView failed; the view ends with the session");
        }
        found
    }

    /// Properties `paths` of one object (`NotFound` when it is gone).
    pub async fn object(&self, obj: &MoRef, paths: &[&str]) -> Result<Object, VsphereError> {
        let spec = format!(
            "<specSet>{}<objectSet>{}<skip>false</skip></objectSet></specSet>",
            prop_set(&obj.ty, paths),
            obj.xml("obj")
        );
        self.retrieve(&spec, 1, 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                VsphereError::new(
                    ErrorKind::NotFound,
                    format!("{} {} not found", obj.ty, obj.value),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    /// A `RetrievePropertiesExResponse` as the vim25 WSDL defines
    /// `RetrieveResult` (`token`, then `objects` of `ObjectContent`: `obj`,
    /// `propSet` of `DynamicProperty` `name`/`val`), the shape a real
    /// vCenter pages with.
    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<token>3</token>
<objects><obj type="VirtualMachine">vm-17</obj>
  <propSet><name>name</name><val xsi:type="xsd:string">web-1</val></propSet>
  <propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>
  <propSet><name>datastore</name><val xsi:type="ArrayOfManagedObjectReference">
    <ManagedObjectReference type="Datastore" xsi:type="ManagedObjectReference">datastore-1</ManagedObjectReference>
    <ManagedObjectReference type="Datastore" xsi:type="ManagedObjectReference">datastore-2</ManagedObjectReference></val></propSet>
</objects>
<objects><obj type="VirtualMachine">vm-18</obj>
  <propSet><name>name</name><val xsi:type="xsd:string">web-2</val></propSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn a_page_reads_its_objects_and_the_token_of_the_next() {
        let doc = parse(PAGE).unwrap();
        let rv = doc
            .at(&["Body", "RetrievePropertiesExResponse", "returnval"])
            .unwrap();
        let (objects, token) = read_page(rv);
        assert_eq!(token.as_deref(), Some("3"));
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].moref(), MoRef::new("VirtualMachine", "vm-17"));
        assert_eq!(objects[0].text("name"), "web-1");
        assert_eq!(objects[0].text("runtime.powerState"), "poweredOn");
        assert_eq!(
            objects[0].references("datastore"),
            vec![
                MoRef::new("Datastore", "datastore-1"),
                MoRef::new("Datastore", "datastore-2")
            ]
        );
        assert_eq!(objects[1].text("name"), "web-2");
        let last = PAGE.replace("<token>3</token>", "");
        let doc = parse(&last).unwrap();
        let rv = doc
            .at(&["Body", "RetrievePropertiesExResponse", "returnval"])
            .unwrap();
        assert_eq!(read_page(rv).1, None, "no token: the last page");
    }
}
