//! Start-up work done on the second core.
//!
//! mysql_common parses the server's version out of the handshake with two regular expressions
//! (`(\d{1,2})\.(\d{1,2})\.(\d{1,3})…`, Unicode-aware), compiled on first use: about 1.4 ms
//! in a release build here, as long as a whole `migrate:status` against a local server takes
//! without it. dbtool compiles them on a thread of their own as it starts, while the main
//! thread parses the command line, reads the configuration and opens the connection; the
//! handshake then finds them ready (or waits for the rest). Better fixed upstream (a hand-written
//! parser, or `(?-u)` patterns); this needs no change there.

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::HandshakePacket;

/// Starts compiling mysql_common's handshake regexes on another thread.
pub(crate) fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("dbtool-warm-up".into())
        .spawn(|| {
            let packet = HandshakePacket::new(
                10,
                &b"0.0.0"[..],
                0,
                [0; 8],
                None::<&[u8]>,
                CapabilityFlags::empty(),
                0,
                StatusFlags::empty(),
                None::<&[u8]>,
            );
            // The two regexes mysql_async's handshake tries, MariaDB's first.
            let _ = packet.maria_db_server_version_parsed();
            let _ = packet.server_version_parsed();
        });
}
