//! PropertyCollector paging on the wire: a real vCenter answers a large
//! `RetrievePropertiesEx` a page at a time with a token, and the client
//! must send that token back in `ContinueRetrievePropertiesEx` until an
//! answer carries none. vcsim answers in one piece, so this scripted
//! server answers in vim25's shapes (the WSDL's `RetrieveResult`:
//! `token`, then `objects` of `ObjectContent`), and the client's requests
//! are checked as they arrived, raw.

use butler_core::backend::{ErrorKind, SystemClock};
use butler_vsphere::{MoRef, Soap, VsphereConfig};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn envelope(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
    )
}

fn vm(n: u32) -> String {
    format!(
        "<objects><obj type=\"VirtualMachine\">vm-{n}</obj><propSet><name>name</name>\
         <val xsi:type=\"xsd:string\">web-{n}</val></propSet></objects>"
    )
}

/// The scripted answer to one request body: pages of 2, 2 and 1 VMs.
fn answer(body: &str) -> String {
    let method = body
        .split("<soapenv:Body><")
        .nth(1)
        .and_then(|r| r.split([' ', '>']).next())
        .unwrap_or_default();
    let inner = match method {
        "RetrieveServiceContent" => "<RetrieveServiceContentResponse xmlns=\"urn:vim25\"><returnval>\
            <rootFolder type=\"Folder\">group-d1</rootFolder><propertyCollector type=\"PropertyCollector\">propertyCollector</propertyCollector>\
            <viewManager type=\"ViewManager\">ViewManager</viewManager><sessionManager type=\"SessionManager\">SessionManager</sessionManager>\
            </returnval></RetrieveServiceContentResponse>".to_string(),
        "Login" => "<LoginResponse xmlns=\"urn:vim25\"><returnval><key>s-1</key><userName>b</userName></returnval></LoginResponse>".into(),
        "CreateContainerView" => "<CreateContainerViewResponse xmlns=\"urn:vim25\"><returnval type=\"ContainerView\">session[s-1]view-1</returnval></CreateContainerViewResponse>".into(),
        "DestroyView" => "<DestroyViewResponse xmlns=\"urn:vim25\"></DestroyViewResponse>".into(),
        "RetrievePropertiesEx" => format!("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><token>t-1</token>{}{}</returnval></RetrievePropertiesExResponse>", vm(1), vm(2)),
        "ContinueRetrievePropertiesEx" if body.contains("<token>t-1</token>") => format!("<ContinueRetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><token>t-2</token>{}{}</returnval></ContinueRetrievePropertiesExResponse>", vm(3), vm(4)),
        "ContinueRetrievePropertiesEx" if body.contains("<token>t-2</token>") => format!("<ContinueRetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>{}</returnval></ContinueRetrievePropertiesExResponse>", vm(5)),
        "CancelRetrievePropertiesEx" => "<CancelRetrievePropertiesExResponse xmlns=\"urn:vim25\"></CancelRetrievePropertiesExResponse>".into(),
        other => format!("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unexpected {other}</faultstring>\
            <detail><InvalidRequestFault xmlns=\"urn:vim25\" xsi:type=\"InvalidRequest\"></InvalidRequestFault></detail></soapenv:Fault>"),
    };
    envelope(&inner)
}

/// Serves HTTP/1.1 on loopback with [`answer`], keeping every request body.
async fn scripted() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sdk", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                    buf.drain(..end + 4 + length);
                    let reply = answer(&body);
                    kept.lock().unwrap().push(body);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                        reply.len()
                    );
                    if sock.write_all(head.as_bytes()).await.is_err()
                        || sock.write_all(reply.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn config(url: &str) -> VsphereConfig {
    let text = format!(
        "allow_plain_http = true\npage_size = 2\n[vcenter]\nurl = \"{url}\"\nusername = \"b\"\n"
    );
    VsphereConfig::from_toml(&text, |_| Some("pw".into())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_read_by_sending_its_token_back() {
    let (url, seen) = scripted().await;
    let soap = Soap::new(&config(&url), Arc::new(SystemClock)).unwrap();
    let root = MoRef::new("Folder", "group-d1");
    let vms = soap
        .objects(&root, "VirtualMachine", &["name"], 2, 100)
        .await
        .unwrap();
    let names: Vec<&str> = vms.iter().map(|o| o.text("name")).collect();
    assert_eq!(names, ["web-1", "web-2", "web-3", "web-4", "web-5"]);
    let seen = seen.lock().unwrap().clone();
    let first = seen
        .iter()
        .find(|b| b.contains("<RetrievePropertiesEx"))
        .expect("the first page");
    assert!(first.contains("<maxObjects>2</maxObjects>"), "{first}");
    assert!(
        first.contains("<type>VirtualMachine</type><pathSet>name</pathSet>"),
        "{first}"
    );
    let continued: Vec<&String> = seen
        .iter()
        .filter(|b| b.contains("<ContinueRetrievePropertiesEx"))
        .collect();
    assert_eq!(continued.len(), 2);
    assert!(
        continued[0].contains("<token>t-1</token>") && continued[1].contains("<token>t-2</token>")
    );
    assert!(
        seen.iter().any(|b| b.contains("<DestroyView")),
        "the view is destroyed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_past_its_bound_is_an_error_and_vcenter_is_told_to_drop_the_rest() {
    let (url, seen) = scripted().await;
    let soap = Soap::new(&config(&url), Arc::new(SystemClock)).unwrap();
    let root = MoRef::new("Folder", "group-d1");
    let e = soap
        .objects(&root, "VirtualMachine", &["name"], 2, 3)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    assert!(e.to_string().contains("more than 3"), "{e}");
    let seen = seen.lock().unwrap().clone();
    assert!(seen
        .iter()
        .any(|b| b.contains("<CancelRetrievePropertiesEx") && b.contains("<token>t-2</token>")));
}
