//! The two halves of a connection as the connection code sees them. The read half of a Unix socket reads
//! with `recvmsg` so that file descriptors a client passes (clamd's FILDES: a byte carrying `SCM_RIGHTS`) are
//! kept, in arrival order, until a FILDES request takes them; a plain `read` would have the kernel drop them.
//! TCP carries none.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use tokio::io::{AsyncRead, Interest, ReadBuf};

/// Descriptors held for a connection's FILDES requests; more are closed as they arrive, so a client cannot
/// make the daemon hold descriptors without bound.
const MAX_HELD_DESCRIPTORS: usize = 16;

/// Descriptors one `recvmsg` takes; the kernel closes any beyond.
const DESCRIPTORS_PER_MESSAGE: usize = 4;

/// A connection's read half.
pub(crate) trait Incoming: AsyncRead + Unpin + Send {
    /// The oldest file descriptor received and not taken yet.
    fn take_descriptor(&mut self) -> Option<OwnedFd>;
}

/// The read half of a Unix socket connection, keeping the descriptors it receives.
pub(crate) struct UnixIncoming {
    half: tokio::net::unix::OwnedReadHalf,
    descriptors: VecDeque<OwnedFd>,
}

impl UnixIncoming {
    pub(crate) fn new(half: tokio::net::unix::OwnedReadHalf) -> Self {
        UnixIncoming { half, descriptors: VecDeque::new() }
    }
}

impl AsyncRead for UnixIncoming {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            let stream: &tokio::net::UnixStream = this.half.as_ref();
            ready!(stream.poll_read_ready(cx))?;
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(DESCRIPTORS_PER_MESSAGE))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let unfilled = buf.initialize_unfilled();
            let received = stream.try_io(Interest::READABLE, || {
                rustix::net::recvmsg(stream, &mut [IoSliceMut::new(unfilled)], &mut control, RecvFlags::CMSG_CLOEXEC)
                    .map_err(std::io::Error::from)
            });
            match received {
                Ok(message) => {
                    for ancillary in control.drain() {
                        if let RecvAncillaryMessage::ScmRights(descriptors) = ancillary {
                            for descriptor in descriptors {
                                if this.descriptors.len() < MAX_HELD_DESCRIPTORS {
                                    this.descriptors.push_back(descriptor);
                                }
                            }
                        }
                    }
                    buf.advance(message.bytes);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; try_io cleared it, so the next poll waits for real data.
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl Incoming for UnixIncoming {
    fn take_descriptor(&mut self) -> Option<OwnedFd> {
        self.descriptors.pop_front()
    }
}

/// The read half of a TCP connection: never a descriptor.
pub(crate) struct TcpIncoming(pub(crate) tokio::net::tcp::OwnedReadHalf);

impl AsyncRead for TcpIncoming {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl Incoming for TcpIncoming {
    fn take_descriptor(&mut self) -> Option<OwnedFd> {
        None
    }
}
