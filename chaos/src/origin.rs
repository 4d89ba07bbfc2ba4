//! Which member dialed a connection that arrived at a peer proxy. On loopback every
//! connection comes from 127.0.0.1, so the address cannot tell; the kernel's socket
//! table can: the dialer's socket is the one whose local port is the connection's
//! remote port, and its inode appears among exactly one member's open files.

use std::path::PathBuf;

/// The socket inode of the TCP connection from 127.0.0.1:`from_port` to
/// 127.0.0.1:`to_port`, from `/proc/net/tcp`.
fn dialer_inode(from_port: u16, to_port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{from_port:04X}");
    let remote = format!("0100007F:{to_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() > 9 && cols[1] == local && cols[2] == remote {
            cols[9].parse().ok().filter(|&inode| inode != 0)
        } else {
            None
        }
    })
}

fn holds_socket(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(PathBuf::from(format!("/proc/{pid}/fd"))) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == wanted.as_str()))
}

/// The index in `pids` of the member that holds the dialing end of the connection
/// from `from_port` to `to_port`, if one does.
pub fn dialer(pids: &[Option<u32>], from_port: u16, to_port: u16) -> Option<usize> {
    let inode = dialer_inode(from_port, to_port)?;
    pids.iter().position(|p| p.is_some_and(|pid| holds_socket(pid, inode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_process_holding_a_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to_port = listener.local_addr().unwrap().port();
        let stream = std::net::TcpStream::connect(("127.0.0.1", to_port)).unwrap();
        let from_port = stream.local_addr().unwrap().port();
        let me = std::process::id();
        assert_eq!(dialer(&[None, Some(me)], from_port, to_port), Some(1));
        // The accepting end is not the dialer, and an unrelated port matches nothing.
        assert_eq!(dialer(&[Some(me)], to_port, from_port), None);
        drop(stream);
    }
}
