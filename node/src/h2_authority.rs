//! Client-port connections whose HTTP/2 `:authority` is spelled as a URL.
//!
//! etcdctl 3.4 given `--endpoints http://host:port` — and every `--cluster` command,
//! which dials the `http://…` client URLs of the member list — dials the gRPC target
//! `passthrough:///http://host:port` and so sends `:authority: http://host:port`. Go's
//! gRPC server (etcd) takes it; hyper's h2 resets the stream with PROTOCOL_ERROR as a
//! malformed authority. [`AuthorityRewrite`] wraps each accepted client connection and,
//! on the read side only, rewrites such an authority to `host:port` before h2 sees it.
//!
//! This module owns that rewrite: telling HTTP/2 from HTTP/1 by the client preface
//! ([`Rewriter`]), framing what the client sends, and keeping two HPACK contexts in step —
//! the client's (our decoder) and the one h2's decoder tracks (our encoder). Since the
//! bytes h2 reads come from our encoder, every header block is re-encoded, not just the
//! rewritten ones. Whatever it does not understand — HTTP/1, a malformed frame or header
//! block — is handed on byte for byte from that point on, so h2 still judges protocol
//! errors itself. Writes pass straight through.
//!
//! A connection whose first header block needs no rewrite is handed on byte for byte
//! from that block on: a gRPC client sends one authority on all the streams of a
//! connection, and decoding and re-encoding every request's headers (Huffman tables
//! built per string by the decoder) cost a member serving many small requests a good
//! part of its CPU. Until something was re-encoded h2's context is the client's, so the
//! switch is seamless.
//!
//! HPACK comes from `fluke-hpack` (a maintained fork of the `hpack` crate): its decoder
//! passes RFC 7541's Huffman and plain vectors (see the tests), it keeps dynamic-table
//! state across blocks on both sides, and it needs only `tracing`. `hpack` 0.3.0 is the
//! unmaintained original (and pulls in `log` 0.3); `httlib-hpack` 0.1.3 indexes past the
//! end of a truncated integer, which a client's bytes could reach. fluke-hpack's one
//! reachable panic (a truncated dynamic-table size update) is kept out of reach by
//! [`well_formed`], which checks a block's structure before it is decoded.

use fluke_hpack::{Decoder, Encoder};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What every HTTP/2 client sends first (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEAD: usize = 9;
const TYPE_HEADERS: u8 = 0x1;
const TYPE_PUSH_PROMISE: u8 = 0x5;
const TYPE_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;
/// The largest frame we emit: the default SETTINGS_MAX_FRAME_SIZE, the least any
/// HTTP/2 server accepts (hyper keeps the default).
const FRAME_OUT_MAX: usize = 16_384;
/// A header block (with its frames' own bytes) larger than this is passed on raw: h2
/// allows 16 KiB of header list, so such a block is refused by h2 anyway.
const BLOCK_MAX: usize = 1 << 20;
/// The HPACK dynamic table size both ends start with. h2's server decoder keeps it (tonic
/// does not set SETTINGS_HEADER_TABLE_SIZE), so it bounds the client's table updates and
/// is the size our encoder fills.
const TABLE_SIZE: usize = 4096;

/// An accepted client connection whose HTTP/2 requests reach the server with a plain
/// `host:port` authority (see the module doc).
pub struct AuthorityRewrite<IO> {
    inner: IO,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read by the server; `sent` of them already are.
    out: Vec<u8>,
    sent: usize,
    eof: bool,
}

impl<IO> AuthorityRewrite<IO> {
    pub fn new(inner: IO) -> Self {
        AuthorityRewrite { inner, rewriter: Rewriter::new(), out: Vec::new(), sent: 0, eof: false }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for AuthorityRewrite<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.sent < this.out.len() {
                let n = (this.out.len() - this.sent).min(buf.remaining());
                buf.put_slice(&this.out[this.sent..this.sent + n]);
                this.sent += n;
                if this.sent == this.out.len() {
                    this.out.clear();
                    this.sent = 0;
                }
                return Poll::Ready(Ok(()));
            }
            // Nothing left to rewrite (HTTP/1, given up, or closed): read straight through.
            if this.eof || this.rewriter.is_passthrough() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
                this.rewriter.finish(&mut this.out);
            } else {
                this.rewriter.feed(read.filled(), &mut this.out);
            }
            // Loop: either there is output now, or more input is needed (a partial frame).
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AuthorityRewrite<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for AuthorityRewrite<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// The sans-IO read side: bytes from the client in, bytes for h2 out.
pub struct Rewriter {
    state: State,
    /// Bytes taken from the client and not yet handed on: a partial preface, a partial
    /// frame head, or every frame of the header block being gathered. On giving up they
    /// are handed on as they came.
    held: Vec<u8>,
    /// Where the current frame starts in `held`.
    frame_start: usize,
    /// The HPACK fragments of the open header block.
    block: Vec<u8>,
    /// Set between a HEADERS frame and the END_HEADERS that closes its block.
    open: Option<OpenBlock>,
    /// Dropped once the rewriter gives up: nothing is decoded after that.
    hpack: Option<Box<Hpack>>,
    /// Set once a block was handed on re-encoded: h2's HPACK context is ours from then
    /// on, so the connection can no longer switch to passing bytes through.
    reencoded: bool,
}

struct Hpack {
    /// The client's context.
    decoder: Decoder<'static>,
    /// The context h2's decoder tracks: it sees only what this encodes.
    encoder: Encoder<'static>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Preface,
    /// Gathering a frame head (9 bytes from `frame_start`).
    Head,
    /// Handing on this many payload bytes of a frame that is not part of a header block.
    Payload(usize),
    /// Gathering the payload of a HEADERS or CONTINUATION frame.
    HeaderPayload(FrameHead),
    /// Handing everything on unchanged.
    Raw,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct FrameHead {
    len: usize,
    ty: u8,
    flags: u8,
    stream: u32,
}

#[derive(Clone, Copy)]
struct OpenBlock {
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Rewriter {
    pub fn new() -> Self {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        Rewriter {
            state: State::Preface,
            held: Vec::new(),
            frame_start: 0,
            block: Vec::new(),
            open: None,
            hpack: Some(Box::new(Hpack { decoder, encoder: Encoder::new() })),
            reencoded: false,
        }
    }

    /// True once every further byte is handed on unchanged and nothing is held.
    pub fn is_passthrough(&self) -> bool {
        self.state == State::Raw && self.held.is_empty()
    }

    /// Takes the next bytes from the client; appends what h2 should read to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match self.state {
                State::Raw => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Preface => {
                    let at = self.held.len();
                    let n = (PREFACE.len() - at).min(input.len());
                    if input[..n] != PREFACE[at..at + n] {
                        // Not HTTP/2 (HTTP/1 `/metrics`, `/health`, `/version`).
                        self.give_up(out);
                        continue;
                    }
                    self.held.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if self.held.len() == PREFACE.len() {
                        out.append(&mut self.held);
                        self.frame_start = 0;
                        self.state = State::Head;
                    }
                }
                State::Head => {
                    let have = self.held.len() - self.frame_start;
                    let n = (FRAME_HEAD - have).min(input.len());
                    self.held.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if have + n == FRAME_HEAD {
                        self.on_head(out);
                    }
                }
                State::Payload(remaining) => {
                    let n = remaining.min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.state =
                        if n == remaining { State::Head } else { State::Payload(remaining - n) };
                }
                State::HeaderPayload(head) => {
                    let have = self.held.len() - self.frame_start - FRAME_HEAD;
                    let n = (head.len - have).min(input.len());
                    self.held.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if have + n == head.len {
                        self.on_header_frame(head, out);
                    }
                }
            }
        }
    }

    /// The client closed its side: hands on whatever is held (h2 sees the truncation).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.give_up(out);
    }

    fn give_up(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
        self.frame_start = 0;
        self.block = Vec::new();
        self.open = None;
        self.hpack = None;
        self.state = State::Raw;
    }

    fn on_head(&mut self, out: &mut Vec<u8>) {
        let h = &self.held[self.frame_start..];
        let head = FrameHead {
            len: usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]),
            ty: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        };
        match head.ty {
            TYPE_HEADERS | TYPE_CONTINUATION => {
                if self.held.len() + head.len > BLOCK_MAX {
                    return self.give_up(out);
                }
                self.state = State::HeaderPayload(head);
                if head.len == 0 {
                    self.on_header_frame(head, out);
                }
            }
            // Anything but CONTINUATION inside a header block is h2's PROTOCOL_ERROR; a
            // client's PUSH_PROMISE (whose header block we would not decode) is too.
            _ if self.open.is_some() || head.ty == TYPE_PUSH_PROMISE => self.give_up(out),
            _ => {
                // No block is open, so `held` is just this frame's head.
                out.append(&mut self.held);
                self.frame_start = 0;
                self.state = if head.len == 0 { State::Head } else { State::Payload(head.len) };
            }
        }
    }

    fn on_header_frame(&mut self, head: FrameHead, out: &mut Vec<u8>) {
        let payload = &self.held[self.frame_start + FRAME_HEAD..];
        if head.stream == 0 {
            return self.give_up(out);
        }
        if head.ty == TYPE_HEADERS {
            if self.open.is_some() {
                return self.give_up(out);
            }
            let Some((priority, fragment)) = split_headers_payload(payload, head.flags) else {
                return self.give_up(out);
            };
            self.block.extend_from_slice(fragment);
            self.open = Some(OpenBlock {
                stream: head.stream,
                end_stream: head.flags & FLAG_END_STREAM != 0,
                priority,
            });
        } else {
            match self.open {
                Some(open) if open.stream == head.stream => self.block.extend_from_slice(payload),
                _ => return self.give_up(out),
            }
        }
        if head.flags & FLAG_END_HEADERS != 0 {
            self.finish_block(out);
        } else {
            self.frame_start = self.held.len();
            self.state = State::Head;
        }
    }

    /// Decodes the gathered block, rewrites `:authority`, and emits it re-encoded.
    fn finish_block(&mut self, out: &mut Vec<u8>) {
        let (Some(open), Some(hpack)) = (self.open, self.hpack.as_mut()) else {
            return self.give_up(out);
        };
        if !well_formed(&self.block) {
            return self.give_up(out);
        }
        let Ok(mut headers) = hpack.decoder.decode(&self.block) else {
            return self.give_up(out);
        };
        let url_authority = headers
            .iter()
            .any(|(name, value)| name == b":authority" && strip_scheme(value).is_some());
        if !url_authority && !self.reencoded {
            // `held` is this block's frames as the client sent them.
            return self.give_up(out);
        }
        self.reencoded = true;
        for (name, value) in &mut headers {
            if name == b":authority" {
                if let Some(host) = strip_scheme(value) {
                    *value = host;
                }
            }
        }
        let block = hpack.encoder.encode(headers.iter().map(|(n, v)| (&n[..], &v[..])));
        write_block(out, open, &block);
        self.held.clear();
        self.block.clear();
        self.open = None;
        self.frame_start = 0;
        self.state = State::Head;
    }
}

/// A HEADERS payload's priority fields and header block fragment, its padding dropped;
/// `None` if the padding or priority does not fit.
fn split_headers_payload(payload: &[u8], flags: u8) -> Option<(Option<[u8; 5]>, &[u8])> {
    let mut rest = payload;
    let mut pad = 0;
    if flags & FLAG_PADDED != 0 {
        let (&len, tail) = rest.split_first()?;
        pad = usize::from(len);
        rest = tail;
    }
    let mut priority = None;
    if flags & FLAG_PRIORITY != 0 {
        let (p, tail) = rest.split_first_chunk::<5>()?;
        priority = Some(*p);
        rest = tail;
    }
    let end = rest.len().checked_sub(pad)?;
    Some((priority, &rest[..end]))
}

/// Emits `block` as one HEADERS frame, or HEADERS plus CONTINUATION frames when it does
/// not fit in [`FRAME_OUT_MAX`].
fn write_block(out: &mut Vec<u8>, open: OpenBlock, block: &[u8]) {
    let priority: &[u8] = open.priority.as_ref().map_or(&[], |p| &p[..]);
    let (first, mut rest) = block.split_at(block.len().min(FRAME_OUT_MAX - priority.len()));
    let mut flags = 0;
    if open.end_stream {
        flags |= FLAG_END_STREAM;
    }
    if open.priority.is_some() {
        flags |= FLAG_PRIORITY;
    }
    if rest.is_empty() {
        flags |= FLAG_END_HEADERS;
    }
    put_head(out, priority.len() + first.len(), TYPE_HEADERS, flags, open.stream);
    out.extend_from_slice(priority);
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(FRAME_OUT_MAX));
        rest = tail;
        let flags = if rest.is_empty() { FLAG_END_HEADERS } else { 0 };
        put_head(out, chunk.len(), TYPE_CONTINUATION, flags, open.stream);
        out.extend_from_slice(chunk);
    }
}

fn put_head(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, stream: u32) {
    let len = u32::try_from(len).expect("frame length fits in 24 bits").to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// `host:port` from an authority spelled `scheme://host:port[/...]`; `None` for any
/// other authority, which is left as it is.
fn strip_scheme(value: &[u8]) -> Option<Vec<u8>> {
    let sep = value.windows(3).position(|w| w == b"://")?;
    let scheme = &value[..sep];
    let valid_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c));
    if !valid_scheme {
        return None;
    }
    let rest = &value[sep + 3..];
    let end = rest.iter().position(|c| b"/?#".contains(c)).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_vec())
}

/// Whether every representation in an HPACK block is complete: integers of at most five
/// octets (as fluke-hpack decodes them), strings within the block, and dynamic-table size
/// updates only before the first field (RFC 7541 §4.2). Table indices and Huffman codes
/// are the decoder's to check.
fn well_formed(block: &[u8]) -> bool {
    let mut at = 0;
    let mut fields = false;
    while let Some(&first) = block.get(at) {
        let ok = if first & 0x80 != 0 {
            integer(block, &mut at, 7).is_some()
        } else if first & 0x40 != 0 {
            literal(block, &mut at, 6)
        } else if first & 0x20 != 0 {
            !fields && integer(block, &mut at, 5).is_some()
        } else {
            literal(block, &mut at, 4)
        };
        if !ok {
            return false;
        }
        fields |= first & 0xe0 != 0x20;
    }
    true
}

fn literal(block: &[u8], at: &mut usize, prefix: u8) -> bool {
    let Some(index) = integer(block, at, prefix) else { return false };
    // Index 0: the name is a literal too.
    if index == 0 && !string(block, at) {
        return false;
    }
    string(block, at)
}

fn string(block: &[u8], at: &mut usize) -> bool {
    let Some(len) = integer(block, at, 7) else { return false };
    if block.len() - *at < len {
        return false;
    }
    *at += len;
    true
}

/// An HPACK integer with a `prefix`-bit prefix (RFC 7541 §5.1), at most five octets.
fn integer(block: &[u8], at: &mut usize, prefix: u8) -> Option<usize> {
    let mask = (1usize << prefix) - 1;
    let mut value = usize::from(*block.get(*at)?) & mask;
    *at += 1;
    if value < mask {
        return Some(value);
    }
    for shift in [0, 7, 14, 21] {
        let b = *block.get(*at)?;
        *at += 1;
        value += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests;
