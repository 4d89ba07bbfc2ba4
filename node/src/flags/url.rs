//! One URL of a `--*-urls` flag or of `--initial-cluster`: `scheme://host:port` and
//! nothing more.
//!
//! A small hand parser rather than the `url` crate: etcd hashes the text of each peer URL
//! into the member id, so that text must survive exactly as Go's `url.URL.String()` prints
//! it, whereas the `url` crate normalises (it drops a scheme's default port and appends a
//! `/` path) and would silently change the ids. etcd accepts no path, query or user here
//! either, so the grammar is three fields.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    /// A DNS name such as `localhost` or `infra1.example.com`, as typed.
    Name(String),
}

/// A parsed `scheme://host:port`. Ordered, compared and printed by its text, because etcd
/// sorts peer URLs as strings before hashing them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    /// The URL as typed, with the scheme in lower case (Go's parser lowers it too).
    text: String,
    scheme: Scheme,
    host: Host,
    port: u16,
}

/// Why a string is not a `scheme://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    MissingScheme,
    /// Only http and https: detcd serves neither unix sockets nor anything else.
    Scheme(String),
    /// Anything after the port: a path (even `/`), a query or a fragment.
    Path,
    NotHostPort,
    Host(String),
    Port(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::MissingScheme => write!(f, "expected scheme://host:port"),
            UrlError::Scheme(s) => write!(f, "URL scheme must be http or https, not {s:?}"),
            UrlError::Path => write!(f, "URL must not contain a path"),
            UrlError::NotHostPort => write!(f, "URL address does not have the form \"host:port\""),
            UrlError::Host(h) => {
                write!(f, "{h:?} is not an IPv4 address, a bracketed IPv6 address or a host name")
            }
            UrlError::Port(p) => write!(f, "port {p:?} is not a number from 1 to 65535"),
        }
    }
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let (scheme_text, authority) = s.split_once("://").ok_or(UrlError::MissingScheme)?;
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(UrlError::Scheme(scheme_text.to_owned())),
        };
        if authority.contains(['/', '?', '#']) {
            return Err(UrlError::Path);
        }
        if authority.contains('@') {
            return Err(UrlError::NotHostPort);
        }
        let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (ip, rest) = bracketed.split_once(']').ok_or(UrlError::NotHostPort)?;
            let port = rest.strip_prefix(':').ok_or(UrlError::NotHostPort)?;
            let ip: Ipv6Addr = ip.parse().map_err(|_| UrlError::Host(format!("[{ip}]")))?;
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = authority.rsplit_once(':').ok_or(UrlError::NotHostPort)?;
            (parse_host(host)?, port)
        };
        let port = parse_port(port_text)?;
        let text = format!("{}://{authority}", scheme.as_str());
        Ok(Url { text, scheme, host, port })
    }

    /// The URL's text, exactly what etcd hashes into a member id.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` (IPv6 in brackets), ready for `TcpListener::bind` or a connect.
    pub fn authority(&self) -> &str {
        &self.text[self.scheme.as_str().len() + "://".len()..]
    }

    /// Whether a socket can be bound to this URL without asking DNS; etcd's rule for
    /// listen URLs is an IP literal or the special name `localhost`.
    pub fn is_bindable(&self) -> bool {
        match &self.host {
            Host::Ip(_) => true,
            Host::Name(name) => name == "localhost",
        }
    }
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl Ord for Url {
    fn cmp(&self, other: &Url) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl PartialOrd for Url {
    fn partial_cmp(&self, other: &Url) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_host(host: &str) -> Result<Host, UrlError> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let name_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if host.is_empty() || !host.chars().all(name_chars) {
        return Err(UrlError::Host(host.to_owned()));
    }
    Ok(Host::Name(host.to_owned()))
}

fn parse_port(port: &str) -> Result<u16, UrlError> {
    if port.is_empty() {
        return Err(UrlError::NotHostPort);
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(UrlError::Port(port.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_ipv6_and_names_parse() {
        let u = Url::parse("http://127.0.0.1:2380").unwrap();
        assert_eq!(u.host(), &Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!((u.port(), u.authority(), u.scheme()), (2380, "127.0.0.1:2380", Scheme::Http));
        let u = Url::parse("https://[::1]:2379").unwrap();
        assert_eq!(u.host(), &Host::Ip("::1".parse().unwrap()));
        assert_eq!(u.authority(), "[::1]:2379");
        assert!(u.is_bindable());
        let u = Url::parse("http://infra1.example.com:2380").unwrap();
        assert_eq!(u.host(), &Host::Name("infra1.example.com".into()));
        assert!(!u.is_bindable());
        assert!(Url::parse("http://localhost:2379").unwrap().is_bindable());
    }

    #[test]
    fn text_is_kept_as_typed_but_for_the_scheme_case() {
        assert_eq!(Url::parse("HTTP://LocalHost:80").unwrap().as_str(), "http://LocalHost:80");
    }

    #[test]
    fn malformed_urls_are_refused() {
        let cases = [
            ("127.0.0.1:2380", UrlError::MissingScheme),
            ("unix://a:1", UrlError::Scheme("unix".into())),
            ("http://127.0.0.1:2380/", UrlError::Path),
            ("http://127.0.0.1:2380?x", UrlError::Path),
            ("http://127.0.0.1", UrlError::NotHostPort),
            ("http://127.0.0.1:", UrlError::NotHostPort),
            ("http://u@127.0.0.1:1", UrlError::NotHostPort),
            ("http://:2380", UrlError::Host("".into())),
            ("http://::1:2380", UrlError::Host("::1".into())),
            ("http://[::g]:2380", UrlError::Host("[::g]".into())),
            ("http://[::1]2380", UrlError::NotHostPort),
            ("http://a b:1", UrlError::Host("a b".into())),
            ("http://h:0", UrlError::Port("0".into())),
            ("http://h:65536", UrlError::Port("65536".into())),
            ("http://h:+80", UrlError::Port("+80".into())),
        ];
        for (text, want) in cases {
            assert_eq!(Url::parse(text), Err(want), "{text}");
        }
    }
}
