//! Custom scalars: `JSON`, `Date`, `ISO8601DateTime`, `CompareValue`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType};
use serde_json::Value;

/// Monday's `JSON` scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub Value);

#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::from_json(self.0.clone()).unwrap_or(async_graphql::Value::Null)
    }
}

/// Monday's `Date` scalar (a string).
#[derive(Clone, Debug, PartialEq)]
pub struct Date(pub String);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        match value {
            async_graphql::Value::String(s) => Ok(Date(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.clone())
    }
}

/// Monday's `ISO8601DateTime` scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Iso8601DateTime(pub String);

#[Scalar(name = "ISO8601DateTime")]
impl ScalarType for Iso8601DateTime {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        match value {
            async_graphql::Value::String(s) => Ok(Iso8601DateTime(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.clone())
    }
}

/// Monday's `CompareValue` scalar (any JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct CompareValue(pub Value);

#[Scalar(name = "CompareValue")]
impl ScalarType for CompareValue {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(CompareValue)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::from_json(self.0.clone()).unwrap_or(async_graphql::Value::Null)
    }
}
