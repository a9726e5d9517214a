//! The schema the mock serves is a faithful subset of Monday's real 2026-10 schema
//! (../shared/reference/monday/schema-2026-10.graphql): every type, field, argument and enum value
//! it serves exists there, with the same type and nullability.

mod common;

use std::collections::BTreeMap;

use async_graphql_parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};
use common::*;
use serde_json::json;

const BUILTIN: &[&str] = &["Int", "Float", "String", "Boolean", "ID"];

/// Type name → (kind, fields/values: name → (type, args: name → type), implements).
type Fields = BTreeMap<String, (String, BTreeMap<String, String>)>;
struct Def {
    kind: &'static str,
    fields: Fields,
    implements: Vec<String>,
}

fn defs(doc: &ServiceDocument) -> BTreeMap<String, Def> {
    let mut out = BTreeMap::new();
    for d in &doc.definitions {
        let TypeSystemDefinition::Type(t) = d else {
            continue;
        };
        let t = &t.node;
        let name = t.name.node.to_string();
        let mut fields = Fields::new();
        let mut implements = Vec::new();
        let kind = match &t.kind {
            TypeKind::Scalar => "scalar",
            TypeKind::Object(o) => {
                implements = o.implements.iter().map(|i| i.node.to_string()).collect();
                for f in &o.fields {
                    let args = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
                        .collect();
                    fields.insert(
                        f.node.name.node.to_string(),
                        (f.node.ty.node.to_string(), args),
                    );
                }
                "object"
            }
            TypeKind::Interface(o) => {
                for f in &o.fields {
                    let args = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
                        .collect();
                    fields.insert(
                        f.node.name.node.to_string(),
                        (f.node.ty.node.to_string(), args),
                    );
                }
                "interface"
            }
            TypeKind::Union(_) => "union",
            TypeKind::Enum(e) => {
                for v in &e.values {
                    fields.insert(
                        v.node.value.node.to_string(),
                        (String::new(), BTreeMap::new()),
                    );
                }
                "enum"
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    fields.insert(
                        f.node.name.node.to_string(),
                        (f.node.ty.node.to_string(), BTreeMap::new()),
                    );
                }
                "input"
            }
        };
        out.insert(
            name,
            Def {
                kind,
                fields,
                implements,
            },
        );
    }
    out
}

#[test]
fn served_schema_is_a_faithful_subset_of_the_real_one() {
    let reference = std::fs::read_to_string(reference_file("monday/schema-2026-10.graphql")).unwrap_or_else(|e| {
        panic!("the conformance test needs Monday's real schema at monday/schema-2026-10.graphql (see shared/reference/README.md): {e}")
    });
    let reference =
        defs(&async_graphql_parser::parse_schema(&reference).expect("reference SDL parses"));
    let sdl = mock_monday::schema::build_schema().sdl();
    let ours = defs(&async_graphql_parser::parse_schema(&sdl).expect("mock SDL parses"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, def) in &ours {
        if BUILTIN.contains(&name.as_str()) || name.starts_with("__") {
            continue;
        }
        let Some(real) = reference.get(name) else {
            problems.push(format!("type {name} does not exist in the real schema"));
            continue;
        };
        if real.kind != def.kind {
            problems.push(format!(
                "type {name} is a {} in the mock but a {} in the real schema",
                def.kind, real.kind
            ));
            continue;
        }
        for i in &def.implements {
            if !real.implements.contains(i) {
                problems.push(format!("type {name} implements {i} only in the mock"));
            }
        }
        for (field, (ty, args)) in &def.fields {
            checked += 1;
            let Some((real_ty, real_args)) = real.fields.get(field) else {
                problems.push(format!("{name}.{field} does not exist in the real schema"));
                continue;
            };
            if ty != real_ty {
                problems.push(format!(
                    "{name}.{field}: mock type {ty}, real type {real_ty}"
                ));
            }
            for (arg, aty) in args {
                match real_args.get(arg) {
                    None => problems.push(format!(
                        "{name}.{field}({arg}:) does not exist in the real schema"
                    )),
                    Some(real) if real != aty => {
                        problems.push(format!("{name}.{field}({arg}:) mock {aty}, real {real}"))
                    }
                    Some(_) => {}
                }
            }
            // Arguments the real field requires must be served too (or valid queries would fail).
            for (arg, real) in real_args {
                if real.ends_with('!') && !args.contains_key(arg) {
                    problems.push(format!(
                        "{name}.{field}: required argument {arg}: {real} is not served"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(checked > 150, "only {checked} fields checked");
    for t in [
        "Query",
        "Mutation",
        "Board",
        "Item",
        "Column",
        "ColumnValue",
        "StatusValue",
        "ItemsResponse",
        "Complexity",
        "Webhook",
    ] {
        assert!(ours.contains_key(t), "the mock serves {t}");
    }
}

#[tokio::test]
async fn introspection_over_http_lists_the_same_types_as_the_sdl() {
    let m = start().await;
    let (s, b) = gql(
        &m,
        "{ __schema { queryType { name } mutationType { name } types { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(b["data"]["__schema"]["mutationType"]["name"], "Mutation");
    let sdl = mock_monday::schema::build_schema().sdl();
    let ours = defs(&async_graphql_parser::parse_schema(&sdl).expect("mock SDL parses"));
    let served: Vec<String> = b["data"]["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    for name in ours.keys() {
        assert!(
            served.contains(name),
            "{name} is in the SDL but not in introspection"
        );
    }
}
