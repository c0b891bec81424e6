//! The URL under load: where to connect, and the request for each running number.

use crate::Error;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use std::net::{SocketAddr, ToSocketAddrs};

/// The text each request's running number replaces in the URL.
const ID_PLACEHOLDER: &str = "{id}";

/// A parsed `http://` URL, its host resolved once before the run.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The URL as given, for the report and messages.
    pub url: String,
    /// The address every connection goes to.
    pub addr: SocketAddr,
    host: HeaderValue,
    path: Path,
}

#[derive(Debug, Clone)]
enum Path {
    /// No `{id}`: every request asks for the same URI (a cheap clone).
    Fixed(Uri),
    /// The path split at each `{id}`.
    Template(Vec<String>),
}

impl Target {
    /// Parses `http://host[:port][/path][?query]` and resolves the host.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only plain http:// URLs are supported"))?;
        let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(path_start);
        if authority.is_empty() {
            return Err(invalid("missing host"));
        }
        if authority.contains('@') || authority.contains(ID_PLACEHOLDER) {
            return Err(invalid("the host part must be host or host:port"));
        }
        let path = match path {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        // Every number gives a valid URI if 0 does: digits are valid anywhere
        // in a path or a query.
        let example = path.replace(ID_PLACEHOLDER, "0");
        let uri: Uri = example
            .parse()
            .map_err(|err| invalid(&format!("bad path or query: {err}")))?;
        let host = HeaderValue::from_str(authority)
            .map_err(|_| invalid("the host is not a valid Host header"))?;
        let with_port = match authority.rsplit_once(':') {
            Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                authority.to_owned()
            }
            _ => format!("{authority}:80"),
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|source| Error::Resolve {
                host: with_port.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| invalid("the host resolves to no address"))?;
        let path = if path.contains(ID_PLACEHOLDER) {
            Path::Template(path.split(ID_PLACEHOLDER).map(str::to_owned).collect())
        } else {
            Path::Fixed(uri)
        };
        Ok(Target {
            url: url.to_owned(),
            addr,
            host,
            path,
        })
    }

    /// The URI of request number `id`.
    pub fn uri(&self, id: u64) -> Uri {
        match &self.path {
            Path::Fixed(uri) => uri.clone(),
            Path::Template(parts) => parts
                .join(&id.to_string())
                .parse()
                .expect("a template that is valid with 0 is valid with any number"),
        }
    }

    /// The GET request number `id`.
    pub fn request(&self, id: u64) -> Request<Empty<Bytes>> {
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = self.uri(id);
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static("runtime-lab-load"));
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        match Target::parse(url) {
            Err(Error::InvalidUrl { reason, .. }) => reason,
            other => panic!("{url}: expected an invalid URL, got {other:?}"),
        }
    }

    #[test]
    fn placeholders_become_the_running_number() {
        let target = Target::parse("http://127.0.0.1:8080/predict?id={id}&again={id}").unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.uri(42), "/predict?id=42&again=42");
        let request = target.request(7);
        assert_eq!(request.uri(), "/predict?id=7&again=7");
        assert_eq!(request.headers()[HOST], "127.0.0.1:8080");
    }

    #[test]
    fn a_url_without_placeholder_is_the_same_every_time() {
        let target = Target::parse("http://127.0.0.1:9/health").unwrap();
        assert_eq!(target.uri(0), target.uri(99));
        assert_eq!(target.uri(5), "/health");
    }

    #[test]
    fn a_bare_host_asks_for_the_root_on_port_80() {
        let target = Target::parse("http://127.0.0.1").unwrap();
        assert_eq!(target.addr.port(), 80);
        assert_eq!(target.uri(0), "/");
        let target = Target::parse("http://127.0.0.1:81?x={id}").unwrap();
        assert_eq!(target.uri(3), "/?x=3");
    }

    #[test]
    fn unusable_urls_say_why() {
        assert!(reason("https://127.0.0.1/").contains("http://"));
        assert!(reason("127.0.0.1:80/").contains("http://"));
        assert!(reason("http:///path").contains("missing host"));
        assert!(reason("http://user@127.0.0.1/").contains("host"));
        assert!(reason("http://127.0.0.1/a b").contains("bad path"));
    }
}
