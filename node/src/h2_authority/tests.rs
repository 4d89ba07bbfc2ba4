//! The rewrite seen from h2's side: what comes out is parsed into frames and its header
//! blocks decoded with one fresh HPACK context, as the server's decoder would.

use super::*;
use proptest::prelude::*;

type Headers = Vec<(String, String)>;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_head(&mut out, payload.len(), ty, flags, stream);
    out.extend_from_slice(payload);
    out
}

/// The preface, an empty SETTINGS, then `frames`.
fn connection(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    out.extend(frame(0x4, 0, 0, &[]));
    for f in frames {
        out.extend_from_slice(f);
    }
    out
}

fn headers_frame(stream: u32, block: &[u8]) -> Vec<u8> {
    frame(TYPE_HEADERS, FLAG_END_HEADERS, stream, block)
}

fn rewrite(input: &[u8]) -> Vec<u8> {
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    r.feed(input, &mut out);
    r.finish(&mut out);
    out
}

fn rewrite_bytewise(input: &[u8]) -> Vec<u8> {
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    for b in input {
        r.feed(std::slice::from_ref(b), &mut out);
    }
    r.finish(&mut out);
    out
}

#[derive(Debug, PartialEq)]
struct Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn frames(bytes: &[u8]) -> Vec<Frame> {
    assert_eq!(&bytes[..24], PREFACE);
    let mut rest = &bytes[24..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let stream = u32::from_be_bytes(rest[5..9].try_into().unwrap());
        out.push(Frame { ty: rest[3], flags: rest[4], stream, payload: rest[9..9 + len].to_vec() });
        rest = &rest[9 + len..];
    }
    out
}

/// Each request's headers as the server decodes them: (stream, END_STREAM, headers).
fn server_view(bytes: &[u8]) -> Vec<(u32, bool, Headers)> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    let mut block = Vec::new();
    let mut open = None;
    for f in frames(bytes) {
        match f.ty {
            TYPE_HEADERS => {
                assert!(open.is_none());
                assert_eq!(f.flags & FLAG_PADDED, 0, "padding is dropped");
                let skip = if f.flags & FLAG_PRIORITY != 0 { 5 } else { 0 };
                block.extend_from_slice(&f.payload[skip..]);
                open = Some((f.stream, f.flags & FLAG_END_STREAM != 0));
            }
            TYPE_CONTINUATION => assert_eq!(open.unwrap().0, f.stream),
            _ => {
                assert!(open.is_none());
                continue;
            }
        }
        if f.ty == TYPE_CONTINUATION {
            block.extend_from_slice(&f.payload);
        }
        assert!(f.payload.len() <= FRAME_OUT_MAX);
        if f.flags & FLAG_END_HEADERS != 0 {
            let (stream, end) = open.take().unwrap();
            out.push((stream, end, strings(decoder.decode(&block).unwrap())));
            block.clear();
        }
    }
    assert!(open.is_none());
    out
}

fn strings(h: Vec<(Vec<u8>, Vec<u8>)>) -> Headers {
    h.into_iter()
        .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

fn grpc_put(authority: &str) -> Headers {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/etcdserverpb.KV/Put"),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("user-agent", "grpc-go/1.26.0"),
        ("te", "trailers"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// `grpc_put("http://127.0.0.1:2379")` twice on one HPACK context, Huffman-coded, then
/// once plain on a fresh context; encoded by an independent implementation (Python's
/// `hpack`). The second block is all dynamic-table references (`c2 c1 c0 bf be`).
const PUT_HUFFMAN_1: &str = "8386448f60a924882d9dcb6571af9b8b1aed4f418f9d29aee30c044eae05c0b86e09975f5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602b89c5c14082497f864d833505b11f";
const PUT_HUFFMAN_2: &str = "8386c2c1c0bfbe";
const PUT_PLAIN: &str = "838644142f6574636473657276657270622e4b562f5075744115687474703a2f2f3132372e302e302e313a323337395f106170706c69636174696f6e2f677270637a0e677270632d676f2f312e32362e304002746508747261696c657273";

#[test]
fn huffman_authority_url_becomes_host_port() {
    let input = connection(&[headers_frame(1, &hex(PUT_HUFFMAN_1))]);
    let view = server_view(&rewrite(&input));
    assert_eq!(view, vec![(1, false, grpc_put("127.0.0.1:2379"))]);
}

#[test]
fn plain_authority_url_becomes_host_port() {
    let input = connection(&[headers_frame(1, &hex(PUT_PLAIN))]);
    let view = server_view(&rewrite(&input));
    assert_eq!(view, vec![(1, false, grpc_put("127.0.0.1:2379"))]);
}

#[test]
fn requests_on_one_connection_share_the_dynamic_table() {
    let data = frame(0x0, FLAG_END_STREAM, 1, b"\0\0\0\0\x02\x0a\x00");
    let input = connection(&[
        headers_frame(1, &hex(PUT_HUFFMAN_1)),
        data.clone(),
        headers_frame(3, &hex(PUT_HUFFMAN_2)),
        headers_frame(5, &hex(PUT_HUFFMAN_2)),
    ]);
    let out = rewrite(&input);
    let want = grpc_put("127.0.0.1:2379");
    assert_eq!(
        server_view(&out),
        vec![(1, false, want.clone()), (3, false, want.clone()), (5, false, want)]
    );
    // Other frames are handed on as they came.
    assert!(frames(&out).contains(&frames(&connection(&[data]))[1]));
}

/// RFC 7541 C.3 (plain) and C.4 (Huffman): three requests on one context. Their
/// authority is already `host`, so the server sees exactly what the client sent.
#[test]
fn rfc7541_requests_round_trip() {
    for blocks in [
        [
            "828684410f7777772e6578616d706c652e636f6d",
            "828684be58086e6f2d6361636865",
            "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        ],
        [
            "828684418cf1e3c2e5f23a6ba0ab90f4ff",
            "828684be5886a8eb10649cbf",
            "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        ],
    ] {
        let mut client = Decoder::new();
        let mut sent = Vec::new();
        let mut input = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            let stream = 2 * i as u32 + 1;
            sent.push((stream, false, strings(client.decode(&hex(b)).unwrap())));
            input.push(headers_frame(stream, &hex(b)));
        }
        assert_eq!(sent[0].2[3], (":authority".into(), "www.example.com".into()));
        assert_eq!(sent[2].2[4], ("custom-key".into(), "custom-value".into()));
        assert_eq!(server_view(&rewrite(&connection(&input))), sent);
    }
}

#[test]
fn split_reads_give_the_same_bytes() {
    let input = connection(&[
        headers_frame(1, &hex(PUT_HUFFMAN_1)),
        frame(0x0, 0, 1, b"0123456789"),
        frame(0x8, 0, 0, &[0, 0, 1, 0]),
        headers_frame(3, &hex(PUT_HUFFMAN_2)),
    ]);
    let out = rewrite(&input);
    assert_eq!(rewrite_bytewise(&input), out);
    assert_eq!(server_view(&out).len(), 2);
}

#[test]
fn padding_priority_and_continuation_are_normalised() {
    let block = hex(PUT_PLAIN);
    let (a, b) = block.split_at(20);
    let mut payload = vec![3]; // pad length
    payload.extend_from_slice(&[0x80, 0, 0, 1, 15]); // exclusive dependency on 1, weight 16
    payload.extend_from_slice(a);
    payload.extend_from_slice(&[0, 0, 0]);
    let input = connection(&[
        frame(TYPE_HEADERS, FLAG_PADDED | FLAG_PRIORITY | FLAG_END_STREAM, 3, &payload),
        frame(TYPE_CONTINUATION, 0, 3, &b[..10]),
        frame(TYPE_CONTINUATION, FLAG_END_HEADERS, 3, &b[10..]),
    ]);
    let out = rewrite_bytewise(&input);
    let fs = frames(&out);
    assert_eq!(fs.len(), 2, "SETTINGS, then one HEADERS");
    assert_eq!(fs[1].flags, FLAG_PRIORITY | FLAG_END_STREAM | FLAG_END_HEADERS);
    assert_eq!(fs[1].payload[..5], [0x80, 0, 0, 1, 15]);
    assert_eq!(server_view(&out), vec![(3, true, grpc_put("127.0.0.1:2379"))]);
}

#[test]
fn a_block_over_one_frame_is_split_into_continuations() {
    let big = "x".repeat(40_000);
    let mut request = grpc_put("http://127.0.0.1:2379");
    request.push(("big".into(), big));
    let mut client = Encoder::new();
    let block = client.encode(request.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let chunks: Vec<&[u8]> = block.chunks(FRAME_OUT_MAX).collect();
    let mut input = vec![frame(TYPE_HEADERS, 0, 1, chunks[0])];
    for (i, c) in chunks[1..].iter().enumerate() {
        let flags = if i + 2 == chunks.len() { FLAG_END_HEADERS } else { 0 };
        input.push(frame(TYPE_CONTINUATION, flags, 1, c));
    }
    let out = rewrite(&connection(&input));
    let fs = frames(&out);
    assert!(fs.len() >= 4 && fs[2..].iter().all(|f| f.ty == TYPE_CONTINUATION));
    request[3].1 = "127.0.0.1:2379".into();
    assert_eq!(server_view(&out), vec![(1, false, request)]);
}

#[test]
fn other_authorities_are_left_alone() {
    for (authority, want) in [
        ("127.0.0.1:2379", "127.0.0.1:2379"),
        ("localhost", "localhost"),
        ("https://[::1]:2379/", "[::1]:2379"),
        ("unix://sock", "sock"),
        ("://x", "://x"),
        ("http://", "http://"),
        ("1http://a:1", "1http://a:1"),
    ] {
        let request = grpc_put(authority);
        let block =
            Encoder::new().encode(request.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        let view = server_view(&rewrite(&connection(&[headers_frame(1, &block)])));
        assert_eq!(view[0].2[3].1, want, "{authority}");
    }
}

#[test]
fn http1_passes_through() {
    for input in [
        &b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:2379\r\n\r\n"[..],
        b"PRI * HTTP/1.1\r\n\r\n",
        b"P",
        b"",
    ] {
        assert_eq!(rewrite(input), input);
        assert_eq!(rewrite_bytewise(input), input);
    }
    let mut r = Rewriter::new();
    r.feed(b"GET", &mut Vec::new());
    assert!(r.is_passthrough());
}

#[test]
fn malformed_streams_pass_through_unchanged() {
    let ok = headers_frame(1, &hex(PUT_HUFFMAN_1));
    for bad in [
        b"garbage after the preface".to_vec(),
        headers_frame(1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // integer too long
        headers_frame(1, &[0x3f]),                               // truncated size update
        headers_frame(1, &[0x82, 0x3f, 0xe1, 0x1f]),             // size update after a field
        headers_frame(1, &[0x3f, 0xe2, 0x1f, 0x82]),             // table larger than 4096
        headers_frame(1, &[0xff, 0x00]),                         // index out of range
        headers_frame(1, &[0x40, 0x85, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61]), // bad Huffman
        headers_frame(0, &[0x82]),                               // stream 0
        frame(TYPE_CONTINUATION, FLAG_END_HEADERS, 1, &[0x82]),  // CONTINUATION alone
        frame(TYPE_HEADERS, FLAG_PADDED | FLAG_END_HEADERS, 1, &[5, 0x82]), // padding too long
        frame(TYPE_HEADERS, FLAG_PRIORITY | FLAG_END_HEADERS, 1, &[0, 0]), // short priority
        frame(TYPE_PUSH_PROMISE, FLAG_END_HEADERS, 1, &[0, 0, 0, 2, 0x82]),
        [frame(TYPE_HEADERS, 0, 1, &[0x82]), frame(0x0, 0, 1, b"x")].concat(), // DATA mid-block
    ] {
        let mut input = connection(std::slice::from_ref(&ok));
        let good = rewrite(&input);
        input.extend_from_slice(&bad);
        input.extend_from_slice(&ok);
        let mut want = good.clone();
        want.extend_from_slice(&bad);
        want.extend_from_slice(&ok);
        assert_eq!(rewrite(&input), want, "{bad:02x?}");
        assert_eq!(rewrite_bytewise(&input), want, "{bad:02x?}");
    }
}

#[test]
fn a_stream_cut_short_is_handed_on_at_eof() {
    let ok = connection(&[headers_frame(1, &hex(PUT_HUFFMAN_1))]);
    let good = rewrite(&ok);
    let next = headers_frame(3, &hex(PUT_HUFFMAN_2));
    for cut in 0..next.len() {
        let input = [ok.clone(), next[..cut].to_vec()].concat();
        let want = [good.clone(), next[..cut].to_vec()].concat();
        assert_eq!(rewrite(&input), want);
        assert_eq!(rewrite_bytewise(&input), want);
    }
}

#[test]
fn an_oversized_block_passes_through() {
    let chunk = vec![0x82; FRAME_OUT_MAX];
    let mut input = vec![frame(TYPE_HEADERS, 0, 1, &chunk)];
    for _ in 0..(BLOCK_MAX / FRAME_OUT_MAX) {
        input.push(frame(TYPE_CONTINUATION, 0, 1, &chunk));
    }
    let input = connection(&input);
    assert_eq!(rewrite(&input), input);
}

#[test]
fn the_io_wrapper_reads_the_rewritten_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let input =
        connection(&[headers_frame(1, &hex(PUT_HUFFMAN_1)), headers_frame(3, &hex(PUT_HUFFMAN_2))]);
    let want = rewrite(&input);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let got = rt.block_on(async {
        // A small pipe, so the client's bytes arrive in pieces.
        let (mut client, server) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            client.write_all(&input).await.unwrap();
            client.shutdown().await.unwrap();
            client
        });
        let mut conn = AuthorityRewrite::new(server);
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"reply").await.unwrap();
        let mut client = writer.await.unwrap();
        let mut reply = [0u8; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
        got
    });
    assert_eq!(got, want);
}

proptest! {
    /// Whatever follows the preface, the rewriter neither panics nor loses bytes: with
    /// no header frame in it, it comes out unchanged.
    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&tail);
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        let cut = cut.min(input.len());
        r.feed(&input[..cut], &mut out);
        r.feed(&input[cut..], &mut out);
        r.finish(&mut out);
        if !frames_contain_headers(&input) {
            prop_assert_eq!(out, input);
        }
    }

    /// Arbitrary HPACK blocks in well-framed HEADERS frames never panic the decoder.
    #[test]
    fn arbitrary_blocks_never_panic(blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..4)) {
        let frames: Vec<Vec<u8>> =
            blocks.iter().enumerate().map(|(i, b)| headers_frame(2 * i as u32 + 1, b)).collect();
        let input = connection(&frames);
        let out = rewrite(&input);
        prop_assert_eq!(rewrite_bytewise(&input), out);
    }
}

/// Whether a well-framed stream after the preface carries a HEADERS or CONTINUATION
/// frame (one the rewriter would re-encode).
fn frames_contain_headers(input: &[u8]) -> bool {
    let mut rest = &input[24..];
    while rest.len() >= 9 {
        if matches!(rest[3], TYPE_HEADERS | TYPE_CONTINUATION) {
            return true;
        }
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    false
}

#[test]
fn a_connection_without_url_authorities_passes_through_from_its_first_block() {
    let request = grpc_put("127.0.0.1:2379");
    let mut client = Encoder::new();
    let first = client.encode(request.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let second = client.encode(request.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    // A URL authority after the switch is no longer looked at.
    let late = client.encode(
        grpc_put("http://127.0.0.1:2379").iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    );
    let input =
        connection(&[headers_frame(1, &first), headers_frame(3, &second), headers_frame(5, &late)]);
    let mut r = Rewriter::new();
    let mut out = Vec::new();
    r.feed(&input, &mut out);
    assert_eq!(out, input, "handed on byte for byte");
    assert!(r.is_passthrough());
}

#[test]
fn once_a_block_was_rewritten_every_later_block_is_reencoded() {
    let mut client = Encoder::new();
    let mut block = |authority: &str| {
        client.encode(grpc_put(authority).iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    };
    let input = connection(&[
        headers_frame(1, &block("http://127.0.0.1:2379")),
        headers_frame(3, &block("127.0.0.1:2379")),
        headers_frame(5, &block("http://127.0.0.1:2379")),
    ]);
    let want = grpc_put("127.0.0.1:2379");
    assert_eq!(
        server_view(&rewrite(&input)),
        vec![(1, false, want.clone()), (3, false, want.clone()), (5, false, want)]
    );
}
