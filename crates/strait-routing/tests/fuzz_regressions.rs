//! Inputs the fuzzers found (fuzz/seeds/<target>/), replayed as the target does.

use strait_routing::{parse_replies, parse_reply, Limits};

/// `bird_reply` (CI's 15-s run, crash-19ab1e6c…): a reply followed by one of BIRD's
/// asynchronous '+' lines. `parse_replies` skipped the '+' line and returned the reply;
/// `parse_reply` called it trailing data. Both now take the reply.
#[test]
fn an_async_line_after_a_reply_is_not_trailing_data() {
    let small = b"0002-Reading configuration\n8002 done\n+ async message\n";
    let found = include_bytes!("../../../fuzz/seeds/bird_reply/async-line-after-reply");
    for data in [&small[..], &found[..]] {
        let replies = parse_replies(data, Limits::default()).expect("one complete reply");
        let [one] = replies.as_slice() else {
            panic!("expected one reply, got {replies:?}");
        };
        assert_eq!(parse_reply(data, Limits::default()).as_ref(), Ok(one));
    }
    // Anything else after the reply is still refused.
    assert!(parse_reply(b"8002 done\n0001 more\n", Limits::default()).is_err());
    assert!(parse_reply(b"8002 done\n+ unterminated", Limits::default()).is_err());
}
