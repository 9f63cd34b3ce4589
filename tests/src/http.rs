//! A thin blocking HTTP client for the Vault API: raw status codes, headers and bodies, so tests
//! can assert exactly what the wire carries (including the error paths a client library hides).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

/// A client bound to one server's address (and its CA, when it serves TLS).
#[derive(Clone)]
pub struct Http {
    base: String,
    client: Client,
}

/// One request being built: `http.req("PUT", "/v1/sys/unseal").json(&body).send()`.
pub struct Req {
    description: String,
    builder: RequestBuilder,
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body parsed as JSON, or `Value::Null` when it is empty or not JSON.
    pub json: Value,
    pub text: String,
    /// "METHOD url", for failure messages.
    pub request: String,
}

impl Http {
    /// A client for `base` ("http://127.0.0.1:PORT" or https), trusting `ca_cert` if given.
    pub fn new(base: &str, ca_cert: Option<&Path>) -> Http {
        Http::with_timeout(base, ca_cert, Duration::from_secs(30))
    }

    /// Like [`Http::new`], with a per-request timeout (readiness polling uses a short one).
    pub fn with_timeout(base: &str, ca_cert: Option<&Path>, timeout: Duration) -> Http {
        let mut builder = Client::builder().no_proxy().timeout(timeout);
        if let Some(ca) = ca_cert {
            let pem = std::fs::read(ca).expect("read CA cert");
            let cert = reqwest::Certificate::from_pem(&pem).expect("parse CA cert");
            builder = builder.add_root_certificate(cert);
        }
        Http {
            base: base.trim_end_matches('/').to_owned(),
            client: builder.build().expect("build HTTP client"),
        }
    }

    /// Starts a request; `method` may be any token, e.g. "LIST"; `path` starts with "/v1/".
    pub fn req(&self, method: &str, path: &str) -> Req {
        let method = Method::from_bytes(method.as_bytes()).expect("valid HTTP method");
        let url = format!("{}{}", self.base, path);
        Req {
            description: format!("{method} {url}"),
            builder: self.client.request(method, url),
        }
    }

    /// Any method, optional token, optional JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.req(method, path).token(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("GET", path, token, None)
    }

    pub fn head(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("HEAD", path, token, None)
    }

    pub fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("PUT", path, token, Some(body))
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("POST", path, token, Some(body))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("DELETE", path, token, None)
    }

    /// Vault's LIST verb.
    pub fn list(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("LIST", path, token, None)
    }
}

impl Req {
    /// Sends the token as `X-Vault-Token` (nothing when `None`).
    pub fn token(self, token: Option<&str>) -> Req {
        match token {
            Some(token) => self.header("X-Vault-Token", token),
            None => self,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, body: &Value) -> Req {
        self.builder = self.builder.json(body);
        self
    }

    /// A raw body, sent as-is (for malformed or oversized input).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.builder = self.builder.body(body.into());
        self
    }

    /// Sends the request; panics only if no HTTP response came back at all.
    pub fn send(self) -> Resp {
        self.try_send()
            .unwrap_or_else(|e| panic!("{} failed: {e:?}", self.description))
    }

    /// Sends the request; `Err` if no HTTP response came back (refused, TLS failure, timeout).
    pub fn try_send(&self) -> Result<Resp, reqwest::Error> {
        let builder = self
            .builder
            .try_clone()
            .expect("request bodies are buffered, so requests can be cloned");
        let response = builder.send()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text()?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            json,
            text,
            request: self.description.clone(),
        })
    }
}

impl Resp {
    /// Panics (showing the request and the body) unless the status is `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status\n{self}");
        self
    }

    /// The `errors` array of a Vault error body; panics if the body has none.
    #[track_caller]
    pub fn errors(&self) -> Vec<String> {
        let errors = self.json["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no `errors` array in the body\n{self}"));
        errors
            .iter()
            .map(|e| {
                e.as_str()
                    .unwrap_or_else(|| panic!("non-string error\n{self}"))
                    .to_owned()
            })
            .collect()
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}\n{}", self.request, self.status, self.text)
    }
}
