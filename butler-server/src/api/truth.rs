//! What every operation can answer besides its own documented results,
//! written into the OpenAPI document so it says what the service does:
//! errors are `application/problem+json`; any operation may answer 400
//! (a query, path or header that does not parse), 401 (no session), 403
//! (denied, or a cookie session's write without its CSRF token), 429
//! (throttled) and 503 (busy or past its deadline); one with a path
//! parameter 404; one with a body 413 and 415; one with a body or a query
//! 422; one with `If-Match` 412 and
//! 428, its header an ETag (`"<version>"`). Numeric ids are 64-bit
//! (at most `i64::MAX`, as stored).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

/// The media type of every error answer.
pub(crate) const PROBLEM: &str = "application/problem+json";

/// The ETag form `If-Match` takes.
const ETAG_PATTERN: &str = r#"^(W/)?"[0-9]{1,19}"$"#;

/// Rewrites `doc` in place (see the module's documentation).
pub(crate) fn make_true(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            complete(op);
        }
    }
}

fn complete(op: &mut Operation) {
    let params = op.parameters.as_deref_mut().unwrap_or_default();
    let mut has_path = false;
    let mut has_if_match = false;
    for p in params.iter_mut() {
        match p.parameter_in {
            ParameterIn::Path => {
                has_path = true;
                if let Some(RefOr::T(Schema::Object(o))) = &mut p.schema {
                    if o.schema_type == SchemaType::Type(Type::Integer) {
                        o.maximum = Some(i64::MAX.into());
                        o.minimum = Some(0.into());
                    }
                }
            }
            ParameterIn::Header if p.name.eq_ignore_ascii_case("If-Match") => {
                has_if_match = true;
                p.schema = Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(ETAG_PATTERN))
                        .into(),
                );
            }
            _ => {}
        }
    }
    let has_body = op.request_body.is_some();
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let mut extra = vec![
        ("400", "The query, path or a header does not parse"),
        ("401", "Not logged in"),
        (
            "403",
            "Not allowed, or a cookie session's write without its CSRF token",
        ),
        ("429", "Too many attempts: wait for Retry-After"),
        ("503", "Busy, or past the request's deadline"),
    ];
    if has_path {
        extra.push(("404", "No such resource"));
    }
    if has_body {
        extra.push(("413", "The body is too large"));
        extra.push(("415", "The body is not JSON"));
    }
    if has_body || has_query {
        extra.push((
            "422",
            "The body or the query does not hold what the operation needs, or is past a limit",
        ));
    }
    if has_if_match {
        extra.push(("412", "Stale: the version changed since it was read"));
        extra.push(("428", "If-Match is missing"));
    }
    let responses = &mut op.responses.responses;
    for (status, what) in extra {
        responses
            .entry(status.to_string())
            .or_insert_with(|| ResponseBuilder::new().description(what).into());
    }
    for (status, r) in responses.iter_mut() {
        let (RefOr::T(r), true) = (r, status.starts_with('4') || status.starts_with('5')) else {
            continue;
        };
        r.content.clear();
        r.content.insert(
            PROBLEM.to_string(),
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
    }
}
