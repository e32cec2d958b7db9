//! The runtime: one handle for triggering, running the executor and its maintenance, and managing
//! executions.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::{AlertDispatcher, AlertEvent, AlertEvents, AlertHandler, AlertRules};
use crate::clock::{Clock, Jitter, SystemClock};
use crate::config::Config;
use crate::env::{Env, ProcessEnv};
use crate::error::HandlerError;
use crate::maintenance::{
    self, Handler, HealthChanges, HealthDispatcher, HealthEvent, HealthHandler, OutcomeDispatcher,
    OutcomeEvent, Outcomes, Pruner, PrunerConfig, Replayer, ReplayerConfig, Rescuer, RescuerConfig,
};
use crate::outbound::delivery::guard::{AddressPolicy, Lookup, SystemLookup};
use crate::outbound::delivery::{Deliverer, ResponseLimits};
use crate::outbound::enqueue::{PgTransactionQueue, SqliteTransactionQueue};
use crate::outbound::executor::{Context, Executor, ExecutorStats};
use crate::outbound::group_commit::GroupCommit;
use crate::outbound::prepare;
use crate::outbound::registry;
use crate::outbound::rules::RowRules;
use crate::outbound::trigger::{Enqueue, NewExecution, TriggerError, TriggerOptions, Webhook};
use crate::protect::BreakerPolicy;
use crate::queue::{ExecutionId, OutcomeKind};
use crate::service::event::{duplicate_event_names, event_types};
use crate::service::publish::{self, EventToPublish, Publish, PublishError};
use crate::service::secrets::{SecretError, SecretKeys};
use crate::service::state::ServiceState;
use crate::store::{
    Attempt, Candidate, DeadLetterFilter, Enqueued, Execution, PgStore, Published, SqliteStore,
    Store, StoreError,
};

/// The BuildAmp runtime over a store. Cheap to clone.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use buildamp_runtime::{Config, PgStore, Runtime};
///
/// let config = Config::from_env()?;
/// let store = PgStore::connect(config.database_url.as_deref().unwrap_or_default(), config.db_pool).await?;
/// let runtime = Runtime::builder(store).config(config).build()?;
/// runtime.migrate().await?;
/// let running = runtime.start().await?;
/// // ... payload.trigger(&runtime).await? anywhere in the app ...
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct Runtime<S: Store = PgStore> {
    inner: Arc<Context<S>>,
    handlers: Arc<[Handler]>,
    health_handlers: Arc<[HealthHandler]>,
    alerting: Arc<Alerting>,
    /// Single triggers from concurrent callers share inserts (and commits).
    commits: Arc<GroupCommit<S>>,
}

impl<S: Store> Clone for Runtime<S> {
    fn clone(&self) -> Self {
        Runtime {
            inner: self.inner.clone(),
            handlers: self.handlers.clone(),
            health_handlers: self.health_handlers.clone(),
            alerting: self.alerting.clone(),
            commits: self.commits.clone(),
        }
    }
}

/// A [`Runtime`] that does not keep it alive: what the builder's typed handlers hold, so that
/// the runtime (which holds the handlers) is not kept alive by them.
struct WeakRuntime<S: Store> {
    inner: Weak<Context<S>>,
    handlers: Weak<[Handler]>,
    health_handlers: Weak<[HealthHandler]>,
    alerting: Weak<Alerting>,
    commits: Weak<GroupCommit<S>>,
}

impl<S: Store> WeakRuntime<S> {
    fn of(runtime: &Runtime<S>) -> Self {
        WeakRuntime {
            inner: Arc::downgrade(&runtime.inner),
            handlers: Arc::downgrade(&runtime.handlers),
            health_handlers: Arc::downgrade(&runtime.health_handlers),
            alerting: Arc::downgrade(&runtime.alerting),
            commits: Arc::downgrade(&runtime.commits),
        }
    }

    fn upgrade(&self) -> Option<Runtime<S>> {
        Some(Runtime {
            inner: self.inner.upgrade()?,
            handlers: self.handlers.upgrade()?,
            health_handlers: self.health_handlers.upgrade()?,
            alerting: self.alerting.upgrade()?,
            commits: self.commits.upgrade()?,
        })
    }
}

/// The alert rules in force and the app's alert handlers.
struct Alerting {
    rules: Arc<AlertRules>,
    handlers: Arc<[AlertHandler]>,
}

/// The runtime a builder's typed handlers will run in, set by [`RuntimeBuilder::build`].
type RuntimeSlot<S> = Arc<OnceLock<WeakRuntime<S>>>;

/// What a typed handler ([`RuntimeBuilder::on_success`], [`RuntimeBuilder::on_failure`]) gets
/// besides the payload and the answer: the outcome event (its fields through `Deref`:
/// `handled.execution_id`, `handled.correlation_id`) and the runtime, to trigger what comes next
/// (a fallback provider, a status check in five minutes).
pub struct Handled<S: Store> {
    event: OutcomeEvent,
    runtime: Runtime<S>,
}

impl<S: Store> Handled<S> {
    /// The runtime the outcome happened in: trigger follow-ups with `payload.trigger(handled.runtime())`.
    pub fn runtime(&self) -> &Runtime<S> {
        &self.runtime
    }

    /// The outcome event.
    pub fn event(&self) -> &OutcomeEvent {
        &self.event
    }

    /// The outcome event, owned.
    pub fn into_event(self) -> OutcomeEvent {
        self.event
    }
}

impl<S: Store> std::ops::Deref for Handled<S> {
    type Target = OutcomeEvent;

    fn deref(&self) -> &OutcomeEvent {
        &self.event
    }
}

impl<S: Store> std::fmt::Debug for Handled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handled")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Runtime`]; [`RuntimeBuilder::build`] runs the start-up checks.
pub struct RuntimeBuilder<S: Store> {
    store: S,
    env: Arc<dyn Env + Send + Sync>,
    clock: Arc<dyn Clock>,
    config: Config,
    handlers: Vec<Handler>,
    health_handlers: Vec<HealthHandler>,
    alert_rules: AlertRules,
    alert_handlers: Vec<AlertHandler>,
    allow_missing_env: bool,
    jitter_seed: Option<u64>,
    limits: ResponseLimits,
    secret_keys: Option<SecretKeys>,
    address_policy: Option<AddressPolicy>,
    lookup: Arc<dyn Lookup>,
    breaker: BreakerPolicy,
    this: RuntimeSlot<S>,
}

/// Why the runtime would not start: every problem, one a line.
#[derive(Debug, thiserror::Error)]
#[error("BuildAmp cannot start:\n{}", .problems.join("\n"))]
pub struct StartupError {
    /// Each problem.
    pub problems: Vec<String>,
}

impl<S: Store> RuntimeBuilder<S> {
    /// Sets the configuration (default: [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Reads `{VAR}` placeholders and secrets from `env` instead of the process environment.
    pub fn env(mut self, env: impl Env + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Uses `clock` for every due date and lease (tests pass a [`crate::ManualClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Seeds the retry jitter, for reproducible timelines.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Sets how much of each response is read and kept.
    pub fn response_limits(mut self, limits: ResponseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Seals endpoints' secrets with `keys` instead of the environment's `BUILDAMP_SECRET_KEY`.
    pub fn secret_keys(mut self, keys: SecretKeys) -> Self {
        self.secret_keys = Some(keys);
        self
    }

    /// Lets endpoints reach the addresses `policy` allows, instead of what
    /// `BUILDAMP_ALLOW_NETWORKS` says (public addresses only when it is unset).
    pub fn address_policy(mut self, policy: AddressPolicy) -> Self {
        self.address_policy = Some(policy);
        self
    }

    /// Resolves endpoints' host names with `lookup` (tests pass a stub; the default is the
    /// system's resolver). The address policy applies to what it answers.
    pub fn lookup(mut self, lookup: impl Lookup) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// When destinations' circuits open, for how long, and when a failing endpoint is disabled
    /// (default [`BreakerPolicy::default`]: 5 consecutive failures, 30 s doubling to an hour,
    /// 5 days).
    pub fn breaker(mut self, policy: BreakerPolicy) -> Self {
        self.breaker = policy;
        self
    }

    /// Starts even when registered webhooks read unset variables; their deliveries dead-letter
    /// with the variable's name. Each missing variable is logged at start.
    pub fn allow_missing_env(mut self) -> Self {
        self.allow_missing_env = true;
        self
    }

    /// Registers an outcome handler, called at least once for every `WebhookSuccess` and
    /// `WebhookFailed`. An error makes the event come back later.
    pub fn on_outcome<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(OutcomeEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handlers
            .push(Arc::new(move |event| Box::pin(handler(event))));
        self
    }

    /// Registers a typed handler of `W`'s deliveries: called at least once for every
    /// `WebhookSuccess` of `W`, with the event and the runtime ([`Handled`]), the payload that
    /// was sent and the answer read as `W::Response` (`#[target(response = Type)]`; an `Err` says
    /// why a 2xx body is not one, which is also the execution's `error_message`). An error makes
    /// the event come back later.
    ///
    /// ```rust,ignore
    /// .on_success::<StripePaymentIntent, _, _>(|handled, payment, intent| async move {
    ///     let intent = intent?; // StripePaymentIntentResponse
    ///     check_status(&intent.id).trigger(handled.runtime()).delay(FIVE_MINUTES).await?;
    ///     Ok(())
    /// })
    /// ```
    pub fn on_success<W, F, Fut>(self, handler: F) -> Self
    where
        W: Webhook,
        F: Fn(Handled<S>, W, Result<W::Response, String>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.on_typed(
            OutcomeKind::WebhookSuccess,
            |event: &OutcomeEvent| {
                let body = event.response_body.as_deref().unwrap_or_default();
                crate::target::parse_as::<W::Response>(body.as_bytes())
            },
            handler,
        )
    }

    /// Registers a typed handler of `W`'s dead letters: called at least once for every
    /// `WebhookFailed` of `W`, with the event and the runtime ([`Handled`]), the payload and the
    /// provider's refusal read as `W::Error`
    /// (`#[target(error = Type)]`), when the last attempt got an answer of that shape (`None`
    /// after a timeout, or for a body of another shape: `event.response_body` has it as text).
    /// This is where a fallback goes (SendGrid refused: send through Mailgun).
    pub fn on_failure<W, F, Fut>(self, handler: F) -> Self
    where
        W: Webhook,
        F: Fn(Handled<S>, W, Option<W::Error>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.on_typed(
            OutcomeKind::WebhookFailed,
            |event: &OutcomeEvent| match (event.response_status, &event.response_body) {
                (Some(_), Some(body)) => crate::target::parse_as::<W::Error>(body.as_bytes()).ok(),
                _ => None,
            },
            handler,
        )
    }

    /// An outcome handler for `W`'s events of `kind` only: the payload read back from the
    /// execution, and what `read` makes of the event's answer.
    fn on_typed<W, T, F, Fut>(
        self,
        kind: OutcomeKind,
        read: fn(&OutcomeEvent) -> T,
        handler: F,
    ) -> Self
    where
        W: Webhook,
        T: Send + 'static,
        F: Fn(Handled<S>, W, T) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let this = self.this.clone();
        let handler = Arc::new(handler);
        self.on_outcome(move |event| {
            let (this, handler) = (this.clone(), handler.clone());
            async move {
                if event.kind != kind || event.webhook_type != W::NAME {
                    return Ok(());
                }
                // Handlers run only inside a runtime, which is alive while it dispatches.
                let runtime = this
                    .get()
                    .and_then(WeakRuntime::upgrade)
                    .ok_or("the runtime was dropped before this outcome was handled")?;
                let payload = typed_payload::<W, S>(runtime.store(), event.execution_id).await?;
                let answer = read(&event);
                handler(Handled { event, runtime }, payload, answer).await
            }
        })
    }

    /// Registers a health handler, called at least once for every change of a destination's
    /// health: an endpoint's or a target host's circuit opened, re-opened or closed, an endpoint
    /// disabled (410 Gone, failing too long, by hand) or enabled again. An error makes the event
    /// come back later; [`HealthEvent::id`] is the same each time.
    pub fn on_health<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(HealthEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.health_handlers
            .push(Arc::new(move |event| Box::pin(handler(event))));
        self
    }

    /// Sets the alert rules (default: [`AlertRules::default`], every rule on).
    pub fn alert_rules(mut self, rules: AlertRules) -> Self {
        self.alert_rules = rules;
        self
    }

    /// Registers an alert handler, called at least once for every alert that fires and every
    /// one that resolves ([`crate::alerts`]). An error makes the event come back later;
    /// [`AlertEvent::id`] is the same each time.
    pub fn on_alert<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(AlertEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.alert_handlers
            .push(Arc::new(move |event| Box::pin(handler(event))));
        self
    }

    /// Checks every registered webhook against the environment and the configuration.
    ///
    /// # Errors
    /// [`StartupError`] naming every duplicate webhook or event name, every unset variable (unless
    /// [`RuntimeBuilder::allow_missing_env`]), every target whose timeout outlasts the lease, a
    /// missing or malformed `BUILDAMP_SECRET_KEY` (needed once the program declares event types),
    /// a malformed `BUILDAMP_ALLOW_NETWORKS` and alert rules that cannot work
    /// ([`AlertRules::problems`]).
    pub fn build(self) -> Result<Runtime<S>, StartupError> {
        let mut problems = Vec::new();
        if self.config.concurrency == 0 || self.config.batch_size == 0 {
            problems.push("concurrency and batch_size must be at least 1".to_owned());
        }
        if let Err(e) = registry::check(&*self.env) {
            if !e.duplicates.is_empty() || !self.allow_missing_env {
                problems.push(e.to_string());
            } else {
                for (var, webhooks) in &e.missing_env_vars {
                    tracing::warn!(variable = var, webhooks = ?webhooks, "environment variable is not set; these webhooks will dead-letter");
                }
            }
        }
        for webhook in registry::webhooks() {
            let timeout = webhook.target().timeout;
            if timeout >= self.config.lease {
                problems.push(format!(
                    "`{}` may take {}s per attempt, longer than the {}s lease: raise BUILDAMP_LEASE_SECS above it, or a slow delivery would be sent twice",
                    webhook.name(),
                    timeout.as_secs(),
                    self.config.lease.as_secs()
                ));
            }
        }
        // Every service setting is read here, so a missing key is a start-up error rather than a
        // failed request later. The key is needed once the program declares event types.
        let keys = match self.secret_keys {
            Some(keys) => Some(keys),
            None => match SecretKeys::from_env(&*self.env) {
                Ok(keys) => Some(keys),
                Err(SecretError::MissingKey) if event_types().is_empty() => None,
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            },
        };
        let policy = match self.address_policy {
            Some(policy) => policy,
            None => AddressPolicy::from_env(&*self.env).unwrap_or_else(|e| {
                problems.push(e);
                AddressPolicy::public_only()
            }),
        };
        problems.extend(self.alert_rules.problems());
        for (name, types) in duplicate_event_names() {
            problems.push(format!(
                "event name `{name}` is declared by {}: rename one of the event types",
                types.join(" and ")
            ));
        }
        if !problems.is_empty() {
            return Err(StartupError { problems });
        }
        // An endpoint's attempt must end well inside the lease, or it would be sent twice.
        let max_timeout = (self.config.lease / 2).min(Duration::from_secs(120));
        let idle = self.config.concurrency.max(1);
        // Transactions hear of every outcome first (a message of theirs was sent or
        // dead-lettered), so a failure brings the outcome back to every handler.
        let this = self.this.clone();
        let transactions: Handler = Arc::new(move |event: OutcomeEvent| {
            let this = this.clone();
            Box::pin(async move {
                if event.correlation_id.is_none() {
                    return Ok(());
                }
                let runtime = this
                    .get()
                    .and_then(WeakRuntime::upgrade)
                    .ok_or("the runtime was dropped before this outcome was handled")?;
                Ok(runtime.transactions().on_outcome(&event).await?)
            })
        });
        let handlers: Vec<Handler> = std::iter::once(transactions).chain(self.handlers).collect();
        let commits = Arc::new(GroupCommit::new(self.store.clone(), self.clock.clone()));
        let runtime = Runtime {
            commits,
            inner: Arc::new(Context {
                store: self.store,
                env: self.env,
                clock: self.clock,
                deliverer: Deliverer::guarded(self.limits, idle, Arc::new(policy), self.lookup),
                turns: Default::default(),
                breakers: crate::outbound::breaker::Breakers::new(self.breaker),
                config: self.config,
                jitter: Arc::new(Jitter::new(self.jitter_seed)),
                service: ServiceState::new(keys, max_timeout),
            }),
            handlers: handlers.into(),
            health_handlers: self.health_handlers.into(),
            alerting: Arc::new(Alerting {
                rules: Arc::new(self.alert_rules),
                handlers: self.alert_handlers.into(),
            }),
        };
        // A builder is consumed by `build`, so its slot is set once.
        let _ = self.this.set(WeakRuntime::of(&runtime));
        Ok(runtime)
    }
}

/// The payload execution `id` sent, read back as `W`.
async fn typed_payload<W: Webhook, S: Store>(
    store: &S,
    id: ExecutionId,
) -> Result<W, HandlerError> {
    let execution = store.execution(id).await?.ok_or_else(|| {
        format!(
            "execution {id} is gone (pruned after the retention period): its payload cannot be read"
        )
    })?;
    serde_json::from_value(execution.payload).map_err(|e| {
        format!(
            "execution {id}'s payload is not a `{}` any more: {e}",
            W::NAME
        )
        .into()
    })
}

/// A started runtime: the executor and its maintenance services.
pub struct Running {
    shutdown: CancellationToken,
    executor: JoinHandle<Result<ExecutorStats, StoreError>>,
    /// Stopped in this order, after the executor.
    services: Vec<maintenance::Running>,
    listener: Option<JoinHandle<()>>,
}

impl Running {
    /// A token that stops the runtime when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The started maintenance services (the outcome dispatcher, the transaction sweeper, the
    /// health dispatcher when health handlers are registered, the alert evaluator, the alert
    /// dispatcher when alert handlers are registered, the rescuer, the replayer, the pruner),
    /// for their pass signals.
    pub fn services(&self) -> &[maintenance::Running] {
        &self.services
    }

    /// Stops claiming, lets in-flight deliveries finish within the grace period and releases the
    /// rest; then stops the dispatchers, the rescuer, the replayer and the pruner, each
    /// after its pass under way; then the change listener.
    ///
    /// # Errors
    /// Releasing rows failed; they come back after their lease instead.
    pub async fn shutdown(self) -> Result<ExecutorStats, StoreError> {
        self.shutdown.cancel();
        let stats = self.executor.await.expect("the executor task panicked");
        for service in self.services {
            service.stop().await;
        }
        if let Some(listener) = self.listener {
            listener.abort();
        }
        stats
    }
}

impl<S: Store> Runtime<S> {
    /// Starts building a runtime over `store`.
    pub fn builder(store: S) -> RuntimeBuilder<S> {
        RuntimeBuilder {
            store,
            env: Arc::new(ProcessEnv),
            clock: Arc::new(SystemClock),
            config: Config::default(),
            handlers: Vec::new(),
            health_handlers: Vec::new(),
            alert_rules: AlertRules::default(),
            alert_handlers: Vec::new(),
            allow_missing_env: false,
            jitter_seed: None,
            limits: ResponseLimits::default(),
            secret_keys: None,
            address_policy: None,
            lookup: Arc::new(SystemLookup),
            breaker: BreakerPolicy::default(),
            this: Arc::default(),
        }
    }

    /// Now, by the runtime's clock.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Customers' endpoints: create, update, rotate secrets, test.
    pub fn endpoints(&self) -> crate::endpoints::Endpoints<S> {
        crate::endpoints::Endpoints::new(self.inner.clone())
    }

    /// Delivery analytics over this runtime's store: overview and trends.
    pub fn analytics(&self) -> crate::analytics::Analytics<S> {
        crate::analytics::Analytics::new(self.inner.clone())
    }

    /// The transactions of this runtime's store (seed 000's callback flow).
    pub fn transactions(&self) -> crate::transactions::Transactions<S> {
        crate::transactions::Transactions::new(self.inner.clone())
    }

    /// The alerts of this runtime's store, under its rules: open incidents, recent ones, an
    /// evaluation.
    pub fn alerts(&self) -> crate::alerts::Alerts<S> {
        crate::alerts::Alerts::new(self.inner.clone(), self.alerting.rules.clone())
    }

    /// Creates or updates the schema.
    ///
    /// # Errors
    /// A migration failed.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.store.migrate().await
    }

    /// A new executor over this runtime (several may run at once, here or in other processes).
    pub fn executor(&self) -> Executor<S> {
        Executor::new(self.inner.clone())
    }

    /// Starts the executor, the rescuer, the replayer, the pruner, the outcome dispatcher, the
    /// transaction sweeper, the alert evaluator and (when handlers are registered) the health
    /// and alert dispatchers, in the background.
    ///
    /// # Errors
    /// The store's change listener could not start.
    pub async fn start(&self) -> Result<Running, StoreError> {
        let listener = self.inner.store.listen().await?;
        let mut services = Vec::new();
        // Always: transactions are told of every outcome.
        services.push(maintenance::start(self.outcome_dispatcher()));
        services.push(maintenance::start(self.transactions().sweeper()));
        if !self.health_handlers.is_empty() {
            services.push(maintenance::start(self.health_dispatcher()));
        }
        services.push(maintenance::start(self.alerts().evaluator()));
        if !self.alerting.handlers.is_empty() {
            services.push(maintenance::start(self.alert_dispatcher()));
        }
        services.push(maintenance::start(self.rescuer()));
        services.push(maintenance::start(self.replayer()));
        services.push(maintenance::start(self.pruner()));
        let shutdown = CancellationToken::new();
        let executor = tokio::spawn(self.executor().run(shutdown.clone()));
        Ok(Running {
            shutdown,
            executor,
            services,
            listener,
        })
    }

    /// The replayer over this runtime's store and clock: create replay jobs, run them, follow
    /// their progress ([`Replayer`]).
    pub fn replayer(&self) -> Replayer<S> {
        Replayer::new(
            self.inner.store.clone(),
            self.inner.clock.clone(),
            self.inner.jitter.clone(),
            ReplayerConfig::default(),
        )
    }

    /// The rescuer over this runtime's store and clock.
    pub fn rescuer(&self) -> Rescuer<S> {
        Rescuer::new(
            self.inner.store.clone(),
            self.inner.clock.clone(),
            self.inner.jitter.clone(),
            RescuerConfig {
                interval: self.inner.config.rescue_interval,
                ..RescuerConfig::default()
            },
        )
    }

    /// The pruner, with the configured retention.
    pub fn pruner(&self) -> Pruner<S> {
        let config = &self.inner.config;
        Pruner::new(
            self.inner.store.clone(),
            self.inner.clock.clone(),
            PrunerConfig {
                retention: config.retention,
                batch: config.prune_batch,
                interval: config.rescue_interval.max(Duration::from_secs(60)),
            },
        )
    }

    /// The outcome dispatcher, with this runtime's handlers.
    pub fn outcome_dispatcher(&self) -> OutcomeDispatcher<S> {
        OutcomeDispatcher::new(
            Outcomes(self.inner.store.clone()),
            self.inner.clock.clone(),
            self.handlers.clone(),
            self.inner.config.poll_interval,
        )
    }

    /// The health dispatcher, with this runtime's health handlers.
    pub fn health_dispatcher(&self) -> HealthDispatcher<S> {
        HealthDispatcher::new(
            HealthChanges(self.inner.store.clone()),
            self.inner.clock.clone(),
            self.health_handlers.clone(),
            self.inner.config.poll_interval,
        )
    }

    /// The alert dispatcher, with this runtime's alert handlers.
    pub fn alert_dispatcher(&self) -> AlertDispatcher<S> {
        AlertDispatcher::new(
            AlertEvents(self.inner.store.clone()),
            self.inner.clock.clone(),
            self.alerting.handlers.clone(),
            self.inner.config.poll_interval,
        )
    }

    /// Triggers many payloads of one webhook in one statement, with the same options (each gets
    /// its own id; an idempotency key in `options` would make them one execution, so it is refused).
    ///
    /// # Errors
    /// A payload cannot be serialized, the options carry an idempotency key, or the store failed;
    /// nothing was enqueued.
    pub async fn trigger_batch<'a, W: Webhook>(
        &self,
        payloads: impl IntoIterator<Item = &'a W>,
        options: &TriggerOptions,
    ) -> Result<Vec<Enqueued>, TriggerError> {
        if options.idempotency_key.is_some() {
            return Err(TriggerError::Enqueue {
                webhook: W::NAME,
                source:
                    "one idempotency key cannot cover a batch: trigger keyed payloads one by one"
                        .into(),
            });
        }
        let now = self.inner.clock.now();
        let mut rows = Vec::new();
        for payload in payloads {
            let execution = NewExecution::of(payload, options.clone())?;
            rows.push(prepare::row(execution, &*self.inner.env, now));
        }
        self.inner
            .store
            .insert(now, rows)
            .await
            .map_err(|e| TriggerError::Enqueue {
                webhook: W::NAME,
                source: Box::new(e),
            })
    }

    /// Enqueues one execution through the shared inserts, and returns the stored execution too
    /// when it is new (built from the row written, not read back); `None` for a repeated key.
    pub(crate) async fn enqueue_returning(
        &self,
        execution: NewExecution,
    ) -> Result<(Enqueued, Option<Execution>), Arc<StoreError>> {
        let row = prepare::row(execution, &*self.inner.env, self.inner.clock.now());
        let (enqueued, written_at) = self.commits.insert(row.clone()).await?;
        let stored = (!enqueued.deduplicated).then(|| row.into_execution(written_at));
        Ok((enqueued, stored))
    }

    /// One execution.
    ///
    /// # Errors
    /// The store failed.
    pub async fn execution(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.inner.store.execution(id).await
    }

    /// The delivery timeline of execution `id`'s message: the providers' events about it
    /// (Twilio, Resend, SES), in the order they were received. [`crate::tracking::timeline::delivery_state`]
    /// says where the message stands.
    ///
    /// # Errors
    /// The store failed.
    pub async fn timeline(
        &self,
        id: ExecutionId,
    ) -> Result<Vec<crate::tracking::timeline::DeliveryEvent>, StoreError> {
        crate::tracking::timeline::read(&self.inner.store, id).await
    }

    /// An execution's attempt log, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn attempts(&self, id: ExecutionId) -> Result<Vec<Attempt>, StoreError> {
        self.inner.store.attempts(id).await
    }

    /// Retries one dead letter with a fresh set of its webhook's attempts (the attempt count goes
    /// on where it was, so attempt numbers stay unique). `false` if it is not a dead letter (any
    /// more): retrying twice delivers once.
    ///
    /// # Errors
    /// The store failed.
    pub async fn retry_dead_letter(&self, id: ExecutionId) -> Result<bool, StoreError> {
        let Some(execution) = self.inner.store.execution(id).await? else {
            return Ok(false);
        };
        let candidate = Candidate {
            id,
            webhook_type: execution.webhook_type,
            attempts: execution.attempts,
            max_attempts: execution.max_attempts,
            endpoint_id: execution.endpoint_id,
        };
        Ok(self.retry_by_hand(&[candidate]).await? == 1)
    }

    /// Retries every dead letter matching `filter`, in batches, each visited once. Returns how
    /// many were retried (a concurrent caller's share is not counted twice).
    ///
    /// # Errors
    /// The store failed; the batches before stay retried.
    pub async fn retry_dead_letters(&self, filter: &DeadLetterFilter) -> Result<u64, StoreError> {
        const BATCH: usize = 1000;
        let mut after = None;
        let mut total = 0;
        loop {
            let batch = self.inner.store.dead_letters(filter, after, BATCH).await?;
            let Some(last) = batch.last() else {
                return Ok(total);
            };
            after = Some(last.id);
            total += self.retry_by_hand(&batch).await?;
            if batch.len() < BATCH {
                return Ok(total);
            }
        }
    }

    /// Moves `dead` back to the queue as the state machine decides, fenced on their state.
    async fn retry_by_hand(&self, dead: &[Candidate]) -> Result<u64, StoreError> {
        let now = self.inner.clock.now();
        let rules = RowRules::load(&self.inner.store, dead).await?;
        let moves = rules.retried_by_hand(dead, now, &self.inner.jitter);
        self.inner.store.record(now, &moves).await
    }

    /// Returns rows whose executor stopped mid-delivery (expired lease) to the queue: one pass of
    /// the [`Rescuer`], which runs every `rescue_interval` once started.
    ///
    /// # Errors
    /// The store failed.
    pub async fn rescue(&self) -> Result<u64, StoreError> {
        self.rescuer().rescue().await
    }

    /// Deletes delivered rows (with their external ids), handled inbound events and untaken
    /// outcome events older than the retention period: one pass of the [`Pruner`]. Returns how
    /// many executions it deleted.
    ///
    /// # Errors
    /// The store failed.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        Ok(self.pruner().prune().await?.executions)
    }

    /// Hands one batch of due outcome events to the handlers. Returns how many events it took.
    ///
    /// # Errors
    /// The store failed.
    pub async fn dispatch_outcomes(&self) -> Result<usize, StoreError> {
        self.outcome_dispatcher().dispatch_once().await
    }
}

impl Runtime<PgStore> {
    /// Enqueues inside the caller's own transaction: `payload.trigger(runtime.transaction(&mut tx))`.
    /// Rolled back, nothing is sent; committed, it will be.
    pub fn transaction<'c>(&'c self, conn: &'c mut sqlx::PgConnection) -> PgTransactionQueue<'c> {
        PgTransactionQueue {
            conn,
            env: &*self.inner.env,
            clock: &*self.inner.clock,
            service: &self.inner.service,
        }
    }
}

impl Runtime<SqliteStore> {
    /// Enqueues inside the caller's own SQLite transaction, as [`Runtime::transaction`] does on
    /// Postgres.
    pub fn transaction<'c>(
        &'c self,
        conn: &'c mut sqlx::SqliteConnection,
    ) -> SqliteTransactionQueue<'c> {
        SqliteTransactionQueue {
            conn,
            store: &self.inner.store,
            env: &*self.inner.env,
            clock: &*self.inner.clock,
            service: &self.inner.service,
        }
    }
}

impl<S: Store> Enqueue for &Runtime<S> {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        let row = prepare::row(execution, &*self.inner.env, self.inner.clock.now());
        Ok(self.commits.insert(row).await?.0)
    }
}

impl<S: Store> Publish for &Runtime<S> {
    async fn publish_event(self, event: EventToPublish) -> Result<Published, PublishError> {
        let now = self.inner.clock.now();
        let publish::Plan { event, deliveries } = publish::plan(event, now);
        let route = |row: &_| deliveries.route(&self.inner.service, row, now);
        Ok(self.inner.store.publish(now, event, &route).await?)
    }
}
