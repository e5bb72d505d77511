//! Binding and serving. `build` binds (port 0 picks a free port, as the tests do) and
//! reports the address; `run_until` serves until the token is cancelled, then lets
//! in-flight requests finish within the grace period.

use std::{net::SocketAddr, sync::Arc};

use axum::Router;
use roster_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use roster_delivery::Outbox;

use crate::{
    ServerSettings,
    limits::{AppRateLimiter, FormLimiter},
    routes,
    state::{AppState, Shared},
    telemetry,
};

pub struct Application {
    listener: TcpListener,
    router: Router,
    settings: Arc<ServerSettings>,
    outbox: Outbox,
}

impl Application {
    pub async fn build(settings: ServerSettings, store: Arc<dyn Store>) -> std::io::Result<Self> {
        telemetry::init_metrics();
        let listener = TcpListener::bind(settings.listen).await?;
        let outbox = Outbox::new(store.clone(), settings.delivery.clone());
        let settings = Arc::new(settings);
        let router = routes::router(AppState::new(Shared {
            store,
            settings: settings.clone(),
            outbox: outbox.clone(),
            form_limiter: Arc::new(FormLimiter::per_minute(
                settings.form_submissions_per_minute,
            )),
            rate_limiter: Arc::new(AppRateLimiter::new(
                settings.protection.rate_per_second,
                settings.protection.rate_burst,
            )),
            credentials: Arc::default(),
        }));
        Ok(Self {
            listener,
            router,
            settings,
            outbox,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The delivery service (tests use it to look at the outbox).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Serves, and runs this node's delivery workers, until `shutdown`; then finishes
    /// in-flight requests and sends within the grace period.
    pub async fn run_until(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let grace = self.settings.shutdown_grace;
        let workers = self.outbox.spawn_workers(shutdown.clone());
        tokio::spawn(telemetry::keep_metrics_bounded(shutdown.clone()));
        let outbox = self.outbox.clone();
        let served = self.serve(shutdown, grace).await;
        let drained = async {
            let _ = workers.await;
            outbox.drain().await;
        };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!(
                ?grace,
                "shutdown grace period over; unfinished sends will be retried after their lease"
            );
        }
        served
    }

    async fn serve(
        self,
        shutdown: CancellationToken,
        grace: std::time::Duration,
    ) -> std::io::Result<()> {
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tokio::select! {
            served = server => served,
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "shutdown grace period over; dropping unfinished requests");
                Ok(())
            }
        }
    }
}
