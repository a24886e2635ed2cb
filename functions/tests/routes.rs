//! The route table, `template.yaml` and `events/` agree: every route has a
//! function of its endpoint's name with a matching HttpApi event, a Lambda
//! binary, and a sample event; nothing in the template or the events lacks a
//! route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use latchkey_functions::{Endpoint, ROUTES};
use latchkey_tests::{policy_actions, template};
use serde_norway::Value;

// `cargo test` sets CARGO_MANIFEST_DIR when it runs a test too; reading it then,
// rather than baking it in at compile time, keeps a build cache that outlives
// the checkout (CI keeps one) from pointing at a folder that no longer exists.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn route_keys() -> BTreeSet<String> {
    ROUTES.iter().map(|route| route.key()).collect()
}

#[test]
fn every_function_has_its_log_group_and_alarms_and_the_reserved_concurrency_fits_the_account() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let functions: BTreeSet<String> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, _)| id.as_str().unwrap().trim_end_matches("Function").to_owned())
        .collect();
    // Fn::ForEach::PerFunction: [Name, [names], {resources}]
    let per_function = &resources
        .get("Fn::ForEach::PerFunction")
        .expect("the per-function log groups and alarms")[1];
    let listed: BTreeSet<String> = per_function
        .as_sequence()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed, functions,
        "Fn::ForEach::PerFunction lists every function"
    );

    // Every function reserves ReservedConcurrency, and Lambda keeps 100 of
    // the account's concurrency (1000 by default) unreserved.
    let most = template["Parameters"]["ReservedConcurrency"]["MaxValue"]
        .as_u64()
        .unwrap();
    assert!(
        most * functions.len() as u64 <= 1000 - 100,
        "ReservedConcurrency MaxValue {most} x {} functions exceeds 900",
        functions.len()
    );
}

#[test]
fn every_template_parameter_has_its_row_in_the_readme() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (_, section) = readme.split_once("### Parameters").unwrap();
    let template = template();
    let missing: Vec<&str> = template["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|name| name.as_str().unwrap())
        .filter(|name| !section.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "README's Parameters table lacks {missing:?}"
    );
}

#[test]
fn the_template_has_one_function_per_endpoint_with_exactly_its_routes() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut template_routes = BTreeSet::new();
    let mut functions = BTreeSet::new();
    for (logical_id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = logical_id.as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        if binary == latchkey_functions::stream::NAME {
            // Not an endpoint: fed by the table's stream, security-log
            // inserts only, reporting the record to retry from.
            assert_eq!(logical_id, "PublishEventsFunction");
            let events = resource["Properties"]["Events"].as_mapping().unwrap();
            assert_eq!(events.len(), 1);
            let (_, stream) = events.iter().next().unwrap();
            assert_eq!(stream["Type"], "DynamoDB");
            let mapping = &stream["Properties"];
            assert_eq!(
                mapping["FunctionResponseTypes"][0],
                "ReportBatchItemFailures"
            );
            let pattern = mapping["FilterCriteria"]["Filters"][0]["Pattern"]
                .as_str()
                .unwrap();
            let pattern: serde_json::Value = serde_json::from_str(pattern).unwrap();
            assert_eq!(pattern["eventName"], serde_json::json!(["INSERT"]));
            assert_eq!(
                pattern["dynamodb"]["Keys"]["sk"]["S"][0]["prefix"],
                "EVENT#"
            );
            continue;
        }
        assert_eq!(
            resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{logical_id}"
        );
        assert_eq!(logical_id, format!("{}Function", pascal(binary)));
        let endpoint = Endpoint::ALL
            .iter()
            .copied()
            .find(|endpoint| endpoint.name() == binary);
        let endpoint = endpoint
            .unwrap_or_else(|| panic!("{logical_id} builds {binary}, which is no endpoint"));
        functions.insert(binary.to_owned());
        let actions = policy_actions(&template, resource);
        let grants = |action: &str| actions.iter().any(|granted| granted == action);
        assert_eq!(
            grants("ses:SendEmail") && grants("ses:GetAccount"),
            endpoint.uses().mail,
            "{logical_id}: mail permissions and the endpoint table's `uses [mail]` disagree"
        );
        assert_eq!(
            grants("dynamodb:GetItem"),
            endpoint.uses().store,
            "{logical_id}: table permissions and the endpoint table's `uses [store]` disagree"
        );
        for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
            assert_eq!(event["Type"], "HttpApi");
            let key = format!(
                "{} {}",
                event["Properties"]["Method"].as_str().unwrap(),
                event["Properties"]["Path"].as_str().unwrap()
            );
            let route = ROUTES.iter().find(|route| route.key() == key);
            assert_eq!(
                route.map(|route| route.endpoint),
                Some(endpoint),
                "{logical_id}: {key}"
            );
            template_routes.insert(key);
        }
    }
    assert_eq!(template_routes, route_keys());
    let endpoints: BTreeSet<String> = Endpoint::ALL
        .iter()
        .map(|endpoint| endpoint.name().to_owned())
        .collect();
    assert_eq!(functions, endpoints);
}

#[test]
fn every_endpoint_has_a_lambda_binary() {
    for endpoint in Endpoint::ALL {
        let source = root().join(format!("functions/src/bin/{}.rs", endpoint.name()));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|_| panic!("missing {}", source.display()));
        assert!(
            text.contains(&format!("Endpoint::{:?}", endpoint)),
            "{} runs another endpoint",
            source.display()
        );
    }
}

#[test]
fn every_route_has_a_sample_event_and_every_event_a_route() {
    let mut event_routes = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        // events/stream/: the stream consumer's samples (tests/stream.rs).
        if path.is_dir() {
            continue;
        }
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = event["routeKey"].as_str().unwrap().to_owned();
        assert_eq!(
            event["requestContext"]["routeKey"],
            key.as_str(),
            "{}",
            path.display()
        );
        assert_eq!(
            event["version"],
            "2.0",
            "{}: HTTP API payload v2",
            path.display()
        );
        assert!(
            route_keys().contains(&key),
            "{}: {key} is no route",
            path.display()
        );
        event_routes.insert(key);
    }
    assert_eq!(event_routes, route_keys());
}

fn openapi() -> Value {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// `(route key, operation)` for every operation `openapi.yaml` documents.
fn operations(document: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_mapping().unwrap() {
        for (method, operation) in item.as_mapping().unwrap() {
            let key = format!(
                "{} {}",
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap()
            );
            found.push((key, operation.clone()));
        }
    }
    found
}

#[test]
fn openapi_yaml_documents_exactly_the_routes() {
    let documented: BTreeSet<String> = operations(&openapi())
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(documented, route_keys());
}

#[test]
fn every_documented_operation_declares_the_failures_any_request_can_meet() {
    for (key, operation) in operations(&openapi()) {
        let responses = operation["responses"].as_mapping().unwrap();
        let statuses: BTreeSet<&str> = responses.keys().map(|s| s.as_str().unwrap()).collect();
        for always in ["500", "503"] {
            assert!(statuses.contains(always), "{key} does not declare {always}");
        }
        if !operation["requestBody"].is_null() {
            for body_error in ["413", "415"] {
                assert!(statuses.contains(body_error), "{key} lacks {body_error}");
            }
        }
    }
}

#[test]
fn openapi_yaml_lists_every_problem_code_and_field_code() {
    let document = openapi();
    let problem = &document["components"]["schemas"]["Problem"]["properties"];
    let listed = |values: &Value| -> BTreeSet<String> {
        values
            .as_sequence()
            .unwrap()
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    let codes: BTreeSet<String> = latchkey::http::ErrorCode::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect();
    assert_eq!(listed(&problem["code"]["enum"]), codes);
    let field_codes: BTreeSet<String> = latchkey::http::FieldCode::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect();
    assert_eq!(
        listed(&problem["errors"]["items"]["properties"]["code"]["enum"]),
        field_codes
    );
}
