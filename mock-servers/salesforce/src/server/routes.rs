//! Routing: OAuth and version endpoints, authentication and the daily limit, then [`MockHandle::dispatch`],
//! the one route table of the REST resources.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::crud::multiple;
use super::http::{json_body, method_not_allowed, object_body, percent_decode, Req, Resp};
use super::query::batch_size;
use super::{Ctx, MockHandle, Mutable};
use crate::error::ApiError;
use crate::ids;
use crate::schema::ObjectDef;
use crate::{oauth, CURRENT_VERSION, MIN_VERSION};

impl MockHandle {
    pub(super) fn route(&self, req: &Req) -> Resp {
        let path = req.path.trim_end_matches('/');
        if path == "/services/oauth2/token" {
            return oauth::token(self, req);
        }
        if path == "/services/oauth2/revoke" {
            return oauth::revoke(self, req);
        }
        if let Some(rest) = path.strip_prefix("/id/") {
            return oauth::identity(self, req, rest);
        }
        if path == "/services/data" {
            return Resp::json(StatusCode::OK, versions());
        }
        let Some(rest) = path.strip_prefix("/services/data/") else {
            return ApiError::not_found().into();
        };
        let mut segs: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        if segs.is_empty() {
            return ApiError::not_found().into();
        }
        let version = segs.remove(0);
        let Some(version) = parse_version(&version) else {
            return ApiError::not_found().into();
        };
        // Authentication.
        let user = match self.authenticate(&req.headers) {
            Ok(u) => u,
            Err(e) => return e.into(),
        };
        let mut m = self.lock();
        if m.used >= m.max {
            let info = format!("api-usage={}/{}", m.used, m.max);
            return Resp::from(ApiError::new(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ))
            .header("Sforce-Limit-Info", info);
        }
        m.used += 1;
        let ctx = Ctx {
            version: version.clone(),
            user_id: user,
        };
        let resp = match self.dispatch(&mut m, &ctx, req, &segs) {
            Ok(r) => r,
            Err(e) => e.into(),
        };
        let info = format!("api-usage={}/{}", m.used, m.max);
        resp.header("Sforce-Limit-Info", info)
    }
}

pub(super) fn parse_version(seg: &str) -> Option<String> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    (minor == "0" && (MIN_VERSION..=CURRENT_VERSION).contains(&major)).then(|| format!("{major}.0"))
}

/// `GET /services/data/`: every version from 46.0 to current, with release labels.
pub fn versions() -> Value {
    Value::Array(
        (MIN_VERSION..=CURRENT_VERSION)
            .map(|v| {
                let k = v as i32 - 60;
                let season = ["Spring", "Summer", "Winter"][k.rem_euclid(3) as usize];
                let year = if season == "Winter" { 25 + k.div_euclid(3) } else { 24 + k.div_euclid(3) };
                json!({"label": format!("{season} '{year:02}"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
            })
            .collect(),
    )
}

impl MockHandle {
    pub(super) fn object(&self, name: &str) -> Result<&ObjectDef, ApiError> {
        self.0.schema.object(name).ok_or_else(ApiError::not_found)
    }

    pub(super) fn check_lock(m: &Mutable, id: &str) -> Result<(), ApiError> {
        match ids::to_18(id) {
            Some(id18) if m.locked.contains(&id18) => Err(ApiError::with_fields(
                StatusCode::BAD_REQUEST,
                "UNABLE_TO_LOCK_ROW",
                format!("unable to obtain exclusive access to this record or 1 records: {id18}"),
                vec![],
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn dispatch(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        segs: &[String],
    ) -> Result<Resp, ApiError> {
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let meth = &req.method;
        match s.as_slice() {
            [] => match *meth {
                Method::GET => Ok(Resp::json(StatusCode::OK, resources(&ctx.version))),
                _ => Err(method_not_allowed(meth, "GET,HEAD")),
            },
            ["limits"] => Ok(Resp::json(StatusCode::OK, self.limits(m))),
            ["sobjects"] => match *meth {
                Method::GET => Ok(Resp::json(
                    StatusCode::OK,
                    json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": self.0.schema.objects().map(|o| o.summary(&ctx.version)).collect::<Vec<_>>()}),
                )),
                _ => Err(method_not_allowed(meth, "GET,HEAD")),
            },
            ["sobjects", o] => {
                let obj = self.object(o)?;
                match *meth {
                    Method::GET => Ok(Resp::json(
                        StatusCode::OK,
                        json!({"objectDescribe": obj.summary(&ctx.version), "recentItems": []}),
                    )),
                    Method::POST => {
                        let body = json_body(req)?;
                        let id = m.data.create(
                            &self.0.schema,
                            obj,
                            object_body(&body)?,
                            &ctx.write(),
                        )?;
                        Ok(Resp::json(
                            StatusCode::CREATED,
                            json!({"id": id, "success": true, "errors": []}),
                        )
                        .header(
                            "Location",
                            format!("/services/data/v{}/sobjects/{}/{id}", ctx.version, obj.name),
                        ))
                    }
                    _ => Err(method_not_allowed(meth, "GET,HEAD,POST")),
                }
            }
            ["sobjects", o, "describe"] => {
                let obj = self.object(o)?;
                match *meth {
                    Method::GET => Ok(Resp::json(StatusCode::OK, obj.describe_for(&ctx.version))),
                    _ => Err(method_not_allowed(meth, "GET,HEAD")),
                }
            }
            ["sobjects", o, id] => {
                let obj = self.object(o)?;
                if !ids::is_valid(id) {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        format!(
                            "Provided external ID field does not exist or is not accessible: {id}"
                        ),
                    ));
                }
                self.record_op(m, ctx, req, obj, id)
            }
            ["sobjects", o, field, value] => {
                let obj = self.object(o)?;
                let f = obj.field(field).filter(|f| f.external_id || f.id_lookup).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        format!("Provided external ID field does not exist or is not accessible: {field}"),
                    )
                })?;
                let matches = m.data.find_by(obj, f, value);
                match *meth {
                    Method::PATCH => {
                        let body = json_body(req)?;
                        let body = object_body(&body)?;
                        let update_only = req
                            .param("updateOnly")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        self.upsert_one(
                            m,
                            ctx,
                            obj,
                            f.name.as_str(),
                            value,
                            body,
                            &matches,
                            update_only,
                        )
                        .map(|(status, v, id)| {
                            let mut r = if status == StatusCode::NO_CONTENT {
                                Resp::empty(status)
                            } else {
                                Resp::json(status, v)
                            };
                            if status == StatusCode::CREATED {
                                r = r.header(
                                    "Location",
                                    format!(
                                        "/services/data/v{}/sobjects/{}/{id}",
                                        ctx.version, obj.name
                                    ),
                                );
                            }
                            r
                        })
                    }
                    Method::GET | Method::DELETE => match matches.as_slice() {
                        [] => Err(ApiError::not_found()),
                        [one] => {
                            let one = one.clone();
                            self.record_op(m, ctx, req, obj, &one)
                        }
                        many => Ok(Resp::json(
                            StatusCode::MULTIPLE_CHOICES,
                            multiple(ctx, obj, many),
                        )),
                    },
                    _ => Err(method_not_allowed(meth, "GET,HEAD,PATCH,DELETE")),
                }
            }
            ["query"] | ["queryAll"] => {
                if *meth != Method::GET {
                    return Err(method_not_allowed(meth, "GET,HEAD"));
                }
                let all = s[0] == "queryAll";
                let Some(q) = req.param("q") else {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "MALFORMED_QUERY",
                        "A query string has to be specified",
                    ));
                };
                let batch = batch_size(&req.headers);
                self.query(m, ctx, q, all, batch)
            }
            ["query", loc] | ["queryAll", loc] => {
                if *meth != Method::GET {
                    return Err(method_not_allowed(meth, "GET,HEAD"));
                }
                self.query_more(m, ctx, s[0], loc)
            }
            ["composite"] => match *meth {
                Method::POST => self.composite(m, ctx, req),
                _ => Err(method_not_allowed(meth, "GET,HEAD,POST")),
            },
            ["composite", "sobjects"] => self.collections(m, ctx, req, None),
            ["composite", "sobjects", o] if *meth == Method::GET => {
                self.collections_retrieve(m, ctx, req, o)
            }
            ["composite", "sobjects", o, field] => self.collections(m, ctx, req, Some((o, field))),
            ["jobs", "query"] => self.job_create_or_list(m, ctx, req),
            ["jobs", "query", id] => self.job_op(m, ctx, req, id),
            ["jobs", "query", id, "results"] => self.job_results(m, req, id),
            _ => Err(ApiError::not_found()),
        }
    }

    fn limits(&self, m: &Mutable) -> Value {
        let remaining = m.max.saturating_sub(m.used);
        json!({
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DailyApiRequests": {"Max": m.max, "Remaining": remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - m.jobs.len().min(10000)},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "HourlyTimeBasedWorkflow": {"Max": 50, "Remaining": 50},
            "SingleEmail": {"Max": 15, "Remaining": 15},
        })
    }
}

fn resources(version: &str) -> Value {
    let b = format!("/services/data/v{version}");
    json!({
        "tooling": format!("{b}/tooling"), "metadata": format!("{b}/metadata"), "eclair": format!("{b}/eclair"),
        "folders": format!("{b}/folders"), "prechatForms": format!("{b}/prechatForms"),
        "jobs": format!("{b}/jobs"), "composite": format!("{b}/composite"),
        "query": format!("{b}/query"), "queryAll": format!("{b}/queryAll"),
        "limits": format!("{b}/limits"), "sobjects": format!("{b}/sobjects"),
        "search": format!("{b}/search"), "recent": format!("{b}/recent"),
    })
}
