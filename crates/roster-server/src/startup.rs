//! Binding and serving. `build` binds (port 0 picks a free port, as the tests do) and
//! reports the address; `run_until` serves until the token is cancelled, then lets
//! in-flight requests finish within the grace period.

use std::{net::SocketAddr, sync::Arc};

use axum::Router;
use roster_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{ServerSettings, routes, state::AppState, telemetry};

pub struct Application {
    listener: TcpListener,
    router: Router,
    settings: Arc<ServerSettings>,
}

impl Application {
    pub async fn build(settings: ServerSettings, store: Arc<dyn Store>) -> std::io::Result<Self> {
        telemetry::init_metrics();
        let listener = TcpListener::bind(settings.listen).await?;
        let settings = Arc::new(settings);
        let router = routes::router(AppState {
            store,
            settings: settings.clone(),
        });
        Ok(Self {
            listener,
            router,
            settings,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run_until(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let grace = self.settings.shutdown_grace;
        let server = axum::serve(self.listener, self.router)
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
