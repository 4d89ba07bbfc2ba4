//! `etcdserverpb.Watch`: one bidirectional stream carrying many watchers. Requests
//! (create, cancel, progress) go to the driver tagged with this stream's id; every
//! response the core routes to the stream is forwarded to the client in order.

use super::Api;
use crate::convert;
use crate::driver::WatchSink;
use crate::pb::etcdserverpb::{self as pb, watch_request::RequestUnion, watch_server::Watch};
use detcd_core::api::EtcdError;
use detcd_core::server::{Request, Response};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tonic::{Request as Req, Response as Resp, Status, Streaming};

pub struct WatchService(pub Arc<Api>);

/// Responses buffered between the driver and a client; a client slower than this is
/// disconnected (and resumes) rather than buffered without bound.
pub const WATCH_BUFFER: usize = 4096;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = tokio_stream::wrappers::ReceiverStream<Result<pb::WatchResponse, Status>>;

    async fn watch(
        &self,
        req: Req<Streaming<pb::WatchRequest>>,
    ) -> Result<Resp<Self::WatchStream>, Status> {
        let credential = super::auth::credential(&req);
        let mut input = req.into_inner();
        let api = self.0.clone();
        // With auth enabled each watch is checked when created, as its sender.
        let as_sender = move |request: Request| match &credential {
            Some(c) => Request::As { credential: c.clone(), request: Box::new(request) },
            None => request,
        };
        let stream = api.handle.new_stream();
        let (tx, mut rx) = mpsc::channel::<Response>(WATCH_BUFFER);
        let sink = WatchSink { tx, overflow: Arc::new(Notify::new()) };
        let (out, out_rx) = mpsc::channel(64);
        #[cfg(feature = "negative-drop-watch-event-on-resume")]
        let mut resumed = false;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = input.message() => {
                        let Ok(Some(msg)) = msg else { break };
                        let sent = match msg.request_union {
                            Some(RequestUnion::CreateRequest(c)) => match convert::watch_create(c) {
                                #[cfg(feature = "negative-drop-watch-event-on-resume")]
                                Ok(create) if create.start_revision > 1 => {
                                    resumed = true;
                                    api.handle.watch(as_sender(Request::WatchCreate { stream, create }), Some(sink.clone()))
                                }
                                Ok(create) => api.handle.watch(as_sender(Request::WatchCreate { stream, create }), Some(sink.clone())),
                                Err(s) => Err(s),
                            },
                            Some(RequestUnion::CancelRequest(c)) => {
                                // The watcher's own stream carries the canceled answer.
                                api.handle.watch(Request::WatchCancel { stream, watch_id: c.watch_id }, None)
                            }
                            Some(RequestUnion::ProgressRequest(_)) => {
                                api.handle.watch(Request::WatchProgress { stream }, Some(sink.clone()))
                            }
                            None => Ok(()),
                        };
                        if let Err(s) = sent {
                            let _ = out.send(Err(s)).await;
                            break;
                        }
                    }
                    Some(resp) = rx.recv() => {
                        let w = match resp {
                            Response::Watch(w) => w,
                            // On a learner etcd refuses the whole stream (its stream
                            // interceptor), not one watch.
                            Response::Err(e @ EtcdError::NotSupportedForLearner) => {
                                let _ = out.send(Err(convert::status(e))).await;
                                break;
                            }
                            // A create refused by auth: etcd answers created and canceled
                            // at once, with the reason.
                            Response::Err(e) => {
                                let refused = pb::WatchResponse {
                                    watch_id: -1,
                                    created: true,
                                    canceled: true,
                                    cancel_reason: e.message().to_owned(),
                                    ..Default::default()
                                };
                                if out.send(Ok(refused)).await.is_err() {
                                    break;
                                }
                                continue;
                            }
                            _ => continue,
                        };
                        // The negative control: a resumed watch (one that starts after
                        // revision 1) loses the first event it would deliver.
                        #[cfg(feature = "negative-drop-watch-event-on-resume")]
                        let w = {
                            let mut w = w;
                            if resumed && !w.events.is_empty() {
                                w.events.remove(0);
                                resumed = false;
                            }
                            w
                        };
                        if out.send(Ok(convert::watch_response(w))).await.is_err() {
                            break;
                        }
                    }
                    _ = sink.overflow.notified() => {
                        let _ = out.send(Err(Status::unavailable(
                            "etcdserver: watch stream fell behind; resume from the last revision received",
                        ))).await;
                        break;
                    }
                }
            }
            api.handle.close_stream(stream).await;
        });
        Ok(Resp::new(tokio_stream::wrappers::ReceiverStream::new(out_rx)))
    }
}
