"""What the demo shop logs, as data: services, stack traces, normal traffic and fault scenarios.

The generator (:mod:`loglens.demo.generator`) is a small engine that plays these
specifications; nothing here is code per scenario. An :class:`EpisodeSpec` is one unit
of work (an HTTP request flowing gateway → order → inventory/payment → notification,
a scheduled job, a pod start-up, ...) described as an ordered list of :class:`Step`.
Each step is one log line of one service: logger, level, a ``str.format`` message
template over the episode's parameters (``{order_no}``, ``{amount}`` ... see
``generator.PARAM_FACTORIES``), the kind of thread that logs it, the delay after the
previous step and an optional Java stack trace (:class:`Exc` chain).

Every step of an episode shares the episode's ``traceId``; every service gets its own
``spanId`` for the hop, except on threads without tracing context (``main``, Kafka's
network thread, Hikari's housekeeper) which log no ``traceId``/``spanId`` at all, as
Micrometer Tracing + logback MDC do in a real Spring Boot 3 app.

A :class:`Scenario` is a fault: its episodes are injected into the background traffic
from ``start_offset_s`` at ``rate_per_s`` episodes per simulated second; ``onset``
episodes fire once at the offset (a deploy, a circuit breaker opening ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["DEBUG", "INFO", "WARN", "ERROR"]

# Thread kinds (resolved to real thread names by the generator).
HTTP = "http"  # http-nio-8080-exec-N (Tomcat)
REACTOR = "reactor"  # reactor-http-epoll-N (Spring Cloud Gateway / Netty)
MAIN = "main"  # start-up, no trace context
SCHEDULING = "scheduling"  # scheduling-1 (@Scheduled, traced since Boot 3.2)
KAFKA_PRODUCER = "kafka-producer"  # kafka-producer-network-thread | producer-1, no trace context
KAFKA_CONSUMER = "kafka-consumer"  # org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1
HIKARI = "hikari"  # HikariPool-1 housekeeper, no trace context
TASK = "task"  # task-N (@Async)

UNTRACED_THREADS = frozenset({MAIN, KAFKA_PRODUCER, HIKARI})


@dataclass(frozen=True)
class Exc:
    """One throwable of a stack trace: ``header`` ("pkg.Cls: message", may hold ``{params}``) and
    its full frame list, top of stack first, without the leading ``at``. For a ``Caused by:``
    the renderer prints only the frames not shared with the enclosing throwable and then
    "... N common frames omitted", exactly as ``Throwable.printStackTrace`` does."""

    header: str
    frames: tuple[str, ...] = ()


Stack = tuple[Exc, ...]


@dataclass(frozen=True)
class Step:
    service: str
    level: Level
    logger: str
    message: str
    thread: str = HTTP
    # Milliseconds after the previous step: a (low, high) uniform range, or the name of a
    # parameter holding the milliseconds (so "took {slow_ms} ms" and the clock agree).
    delay: tuple[int, int] | str = (1, 15)
    stack: Stack = ()
    p: float = 1.0  # probability that the step is logged at all
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpisodeSpec:
    name: str
    steps: tuple[Step, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    app_class: str
    package: str
    reactive: bool = False
    has_db: bool = True
    kafka: bool = False


SERVICES: dict[str, ServiceInfo] = {
    s.name: s
    for s in (
        ServiceInfo("gateway", "GatewayApplication", "com.acme.gateway", reactive=True, has_db=False),
        ServiceInfo("order", "OrderServiceApplication", "com.acme.order", kafka=True),
        ServiceInfo("payment", "PaymentServiceApplication", "com.acme.payment"),
        ServiceInfo("inventory", "InventoryServiceApplication", "com.acme.inventory"),
        ServiceInfo("notification", "NotificationServiceApplication", "com.acme.notification", kafka=True),
    )
}
DEFAULT_SERVICES: tuple[str, ...] = tuple(SERVICES)

G, O, P, I, N = "gateway", "order", "payment", "inventory", "notification"  # noqa: E741

# --------------------------------------------------------------------------------------
# Stack frames (Spring Boot 3.3 / Spring 6.1 / Tomcat 10.1 / Hibernate 6.5 / Java 21)
# --------------------------------------------------------------------------------------

REFLECT = (
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
)
_HANDLER = (
    "org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
    "org.springframework.web.method.support.InvocableHandlerMethod.invokeForRequest(InvocableHandlerMethod.java:188)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
)
_CHAIN = (
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:195)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
)


def _filter(fq: str, line: int) -> tuple[str, ...]:
    simple = fq.rsplit(".", 1)[1]
    return (
        f"{fq}.doFilterInternal({simple}.java:{line})",
        "org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)",
        *_CHAIN,
    )


def _below_handler(http_method: str) -> tuple[str, ...]:
    do, line = {"GET": ("doGet", 903), "POST": ("doPost", 914)}[http_method]
    return (
        "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.invokeHandlerMethod(RequestMappingHandlerAdapter.java:986)",
        "org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.handleInternal(RequestMappingHandlerAdapter.java:891)",
        "org.springframework.web.servlet.mvc.method.AbstractHandlerMethodAdapter.handle(AbstractHandlerMethodAdapter.java:87)",
        "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
        "org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:979)",
        "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
        f"org.springframework.web.servlet.FrameworkServlet.{do}(FrameworkServlet.java:{line})",
        "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
        "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
        "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
        *_CHAIN,
        "org.apache.tomcat.websocket.server.WsFilter.doFilter(WsFilter.java:51)",
        "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:164)",
        "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
        *_filter("org.springframework.web.filter.RequestContextFilter", 100),
        *_filter("org.springframework.web.filter.FormContentFilter", 93),
        *_filter("org.springframework.web.filter.ServerHttpObservationFilter", 109),
        *_filter("org.springframework.web.filter.CharacterEncodingFilter", 201),
        "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
        "org.apache.catalina.core.StandardContextValve.invoke(StandardContextValve.java:90)",
        "org.apache.catalina.authenticator.AuthenticatorBase.invoke(AuthenticatorBase.java:483)",
        "org.apache.catalina.core.StandardHostValve.invoke(StandardHostValve.java:115)",
        "org.apache.catalina.valves.ErrorReportValve.invoke(ErrorReportValve.java:93)",
        "org.apache.catalina.core.StandardEngineValve.invoke(StandardEngineValve.java:74)",
        "org.apache.catalina.connector.CoyoteAdapter.service(CoyoteAdapter.java:344)",
        "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:397)",
        "org.apache.coyote.AbstractProcessorLight.process(AbstractProcessorLight.java:63)",
        "org.apache.coyote.AbstractProtocol$ConnectionHandler.process(AbstractProtocol.java:905)",
        "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1741)",
        "org.apache.tomcat.util.net.SocketProcessorBase.run(SocketProcessorBase.java:52)",
        "org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1190)",
        "org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659)",
        "org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:63)",
        "java.base/java.lang.Thread.run(Thread.java:1583)",
    )


def _frame(fq_method: str, line: int) -> str:
    cls = fq_method.rsplit(".", 1)[0]
    simple = cls.rsplit(".", 1)[1].split("$", 1)[0]
    return f"{fq_method}({simple}.java:{line})"


def _controller(fq_method: str, line: int, http_method: str = "POST") -> tuple[str, ...]:
    """The controller method frame and everything below it down to Thread.run."""
    return (_frame(fq_method, line), *REFLECT, *_HANDLER, *_below_handler(http_method))


def _tx_proxy(fq_method: str) -> tuple[str, ...]:
    """Frames a @Transactional bean's CGLIB proxy adds above the caller (target frame excluded)."""
    cls, method = fq_method.rsplit(".", 1)
    return (
        *REFLECT,
        "org.springframework.aop.support.AopUtils.invokeJoinpointUsingReflection(AopUtils.java:359)",
        "org.springframework.aop.framework.CglibAopProxy$CglibMethodInvocation.invokeJoinpoint(CglibAopProxy.java:724)",
        "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:196)",
        "org.springframework.aop.framework.CglibAopProxy$CglibMethodInvocation.proceed(CglibAopProxy.java:751)",
        "org.springframework.transaction.interceptor.TransactionInterceptor$1.proceedWithInvocation(TransactionInterceptor.java:123)",
        "org.springframework.transaction.interceptor.TransactionAspectSupport.invokeWithinTransaction(TransactionAspectSupport.java:392)",
        "org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
        "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:184)",
        "org.springframework.aop.framework.CglibAopProxy$CglibMethodInvocation.proceed(CglibAopProxy.java:751)",
        "org.springframework.aop.framework.CglibAopProxy$DynamicAdvisedInterceptor.intercept(CglibAopProxy.java:703)",
        f"{cls}$$SpringCGLIB$$0.{method}(<generated>)",
    )


def _chain(*throwables: tuple[str, tuple[str, ...]]) -> Stack:
    """An outer throwable and its ``Caused by:`` chain, each as (header, full frames)."""
    return tuple(Exc(header, frames) for header, frames in throwables)


# The request paths through each service (controller → @Transactional service).
_ORDER_CREATE = (
    *_tx_proxy("com.acme.order.service.OrderService.placeOrder"),
    *_controller("com.acme.order.web.OrderController.create", 58),
)
_PAYMENT_CREATE = (
    *_tx_proxy("com.acme.payment.service.PaymentService.charge"),
    *_controller("com.acme.payment.web.PaymentController.create", 42),
)
_INVENTORY_RESERVE = (
    *_tx_proxy("com.acme.inventory.service.ReservationService.reserve"),
    *_controller("com.acme.inventory.web.InventoryController.reserve", 51),
)

_REST_POST = (
    "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:906)",
    "org.springframework.web.client.RestTemplate.execute(RestTemplate.java:801)",
    "org.springframework.web.client.RestTemplate.postForEntity(RestTemplate.java:556)",
    _frame("com.acme.order.client.PaymentClient.charge", 48),
    _frame("com.acme.order.service.OrderService.placeOrder", 118),
    *_ORDER_CREATE,
)

_SOCKET_READ_TIMEOUT = (
    "java.base/sun.nio.ch.NioSocketImpl.timedFinishRead(NioSocketImpl.java:278)",
    "java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
    "java.base/sun.nio.ch.NioSocketImpl.read(NioSocketImpl.java:346)",
    "java.base/sun.nio.ch.NioSocketImpl$1.read(NioSocketImpl.java:796)",
    "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
    "java.base/java.io.BufferedInputStream.fill(BufferedInputStream.java:291)",
    "java.base/java.io.BufferedInputStream.read1(BufferedInputStream.java:347)",
    "java.base/java.io.BufferedInputStream.implRead(BufferedInputStream.java:420)",
    "java.base/java.io.BufferedInputStream.read(BufferedInputStream.java:399)",
    "java.base/sun.net.www.http.HttpClient.parseHTTPHeader(HttpClient.java:827)",
    "java.base/sun.net.www.http.HttpClient.parseHTTP(HttpClient.java:759)",
    "java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream0(HttpURLConnection.java:1705)",
    "java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream(HttpURLConnection.java:1614)",
    "java.base/java.net.HttpURLConnection.getResponseCode(HttpURLConnection.java:531)",
)
_SOCKET_CONNECT_REFUSED = (
    "java.base/sun.nio.ch.Net.pollConnect(Native Method)",
    "java.base/sun.nio.ch.Net.pollConnectNow(Net.java:682)",
    "java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)",
    "java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:592)",
    "java.base/java.net.SocksSocketImpl.connect(SocksSocketImpl.java:327)",
    "java.base/java.net.Socket.connect(Socket.java:751)",
    "java.base/sun.net.NetworkClient.doConnect(NetworkClient.java:178)",
    "java.base/sun.net.www.http.HttpClient.openServer(HttpClient.java:531)",
    "java.base/sun.net.www.http.HttpClient.openServer(HttpClient.java:636)",
    "java.base/sun.net.www.http.HttpClient.<init>(HttpClient.java:280)",
    "java.base/sun.net.www.http.HttpClient.New(HttpClient.java:386)",
    "java.base/sun.net.www.protocol.http.HttpURLConnection.getNewHttpClient(HttpURLConnection.java:1309)",
    "java.base/sun.net.www.protocol.http.HttpURLConnection.plainConnect0(HttpURLConnection.java:1242)",
    "java.base/sun.net.www.protocol.http.HttpURLConnection.connect(HttpURLConnection.java:1057)",
    "org.springframework.http.client.SimpleClientHttpRequest.executeInternal(SimpleClientHttpRequest.java:79)",
    "org.springframework.http.client.AbstractClientHttpRequest.execute(AbstractClientHttpRequest.java:66)",
    "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:889)",
)

STACK_PAYMENT_READ_TIMEOUT = _chain(
    (
        "org.springframework.web.client.ResourceAccessException: I/O error on POST request for "
        '"http://payment:8080/api/payments": Read timed out',
        (
            "org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:926)",
            *_REST_POST,
        ),
    ),
    (
        "java.net.SocketTimeoutException: Read timed out",
        (
            *_SOCKET_READ_TIMEOUT,
            "org.springframework.http.client.SimpleClientHttpResponse.getStatusCode(SimpleClientHttpResponse.java:55)",
            "org.springframework.web.client.DefaultResponseErrorHandler.hasError(DefaultResponseErrorHandler.java:69)",
            "org.springframework.web.client.RestTemplate.handleResponse(RestTemplate.java:936)",
            "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:901)",
            *_REST_POST[1:],
        ),
    ),
)
STACK_PAYMENT_CONNECTION_REFUSED = _chain(
    (
        "org.springframework.web.client.ResourceAccessException: I/O error on POST request for "
        '"http://payment:8080/api/payments": Connection refused',
        (
            "org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:926)",
            *_REST_POST,
        ),
    ),
    ("java.net.ConnectException: Connection refused", (*_SOCKET_CONNECT_REFUSED, *_REST_POST[1:])),
)
STACK_PAYMENT_500 = _chain(
    (
        "org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal "
        "Server Error: "
        '"{{"timestamp":"{now_iso}","status":500,"error":"Internal Server Error","path":"/api/payments"}}"',
        (
            "org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:102)",
            "org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:186)",
            "org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:137)",
            "org.springframework.web.client.ResponseErrorHandler.handleError(ResponseErrorHandler.java:63)",
            "org.springframework.web.client.RestTemplate.handleResponse(RestTemplate.java:942)",
            *_REST_POST,
        ),
    ),
)

_FEIGN_RESERVE = (
    "feign.SynchronousMethodHandler.executeAndDecode(SynchronousMethodHandler.java:105)",
    "feign.SynchronousMethodHandler.invoke(SynchronousMethodHandler.java:53)",
    "feign.ReflectiveFeign$FeignInvocationHandler.invoke(ReflectiveFeign.java:104)",
    "jdk.proxy2/jdk.proxy2.$Proxy142.reserve(Unknown Source)",
    "io.github.resilience4j.circuitbreaker.CircuitBreaker.lambda$decorateCheckedSupplier$82a9021a$1(CircuitBreaker.java:70)",
    "io.github.resilience4j.circuitbreaker.CircuitBreaker.executeCheckedSupplier(CircuitBreaker.java:1140)",
    _frame("com.acme.order.client.InventoryGateway.reserve", 37),
    _frame("com.acme.order.service.OrderService.placeOrder", 104),
    *_ORDER_CREATE,
)
STACK_INVENTORY_FEIGN_TIMEOUT = _chain(
    (
        "feign.RetryableException: Read timed out executing POST http://inventory:8080/api/inventory/reservations",
        ("feign.FeignException.errorExecuting(FeignException.java:300)", *_FEIGN_RESERVE),
    ),
    (
        "java.net.SocketTimeoutException: Read timed out",
        (
            *_SOCKET_READ_TIMEOUT,
            "feign.Client$Default.convertResponse(Client.java:111)",
            "feign.Client$Default.execute(Client.java:107)",
            "feign.SynchronousMethodHandler.executeAndDecode(SynchronousMethodHandler.java:102)",
            *_FEIGN_RESERVE[1:],
        ),
    ),
)
STACK_CALL_NOT_PERMITTED = _chain(
    (
        "io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker 'inventory' is OPEN "
        "and does not permit further calls",
        (
            "io.github.resilience4j.circuitbreaker.CallNotPermittedException.createCallNotPermittedException(CallNotPermittedException.java:48)",
            "io.github.resilience4j.circuitbreaker.internal.CircuitBreakerStateMachine$OpenState.acquirePermission(CircuitBreakerStateMachine.java:1032)",
            "io.github.resilience4j.circuitbreaker.internal.CircuitBreakerStateMachine.acquirePermission(CircuitBreakerStateMachine.java:224)",
            "io.github.resilience4j.circuitbreaker.CircuitBreaker.lambda$decorateCheckedSupplier$82a9021a$1(CircuitBreaker.java:68)",
            *_FEIGN_RESERVE[5:],
        ),
    ),
)

_HIKARI_TIMEOUT = (
    "HikariPool-1 - Connection is not available, request timed out after {hikari_ms}ms (total=10, active=10, "
    "idle=0, waiting={waiting})"
)
_DB_POOL_OUTER = (
    "org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:466)",
    "org.springframework.transaction.support.AbstractPlatformTransactionManager.startTransaction(AbstractPlatformTransactionManager.java:531)",
    "org.springframework.transaction.support.AbstractPlatformTransactionManager.getTransaction(AbstractPlatformTransactionManager.java:405)",
    "org.springframework.transaction.interceptor.TransactionAspectSupport.createTransactionIfNecessary(TransactionAspectSupport.java:610)",
    "org.springframework.transaction.interceptor.TransactionAspectSupport.invokeWithinTransaction(TransactionAspectSupport.java:382)",
    *_PAYMENT_CREATE[8:],  # TransactionInterceptor.invoke and below
)
_DB_POOL_JDBC = (
    "org.hibernate.exception.internal.SQLStateConversionDelegate.convert(SQLStateConversionDelegate.java:100)",
    "org.hibernate.exception.internal.StandardSQLExceptionConverter.convert(StandardSQLExceptionConverter.java:58)",
    "org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(SqlExceptionHelper.java:108)",
    "org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(SqlExceptionHelper.java:94)",
    "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.acquireConnectionIfNeeded(LogicalConnectionManagedImpl.java:116)",
    "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.getPhysicalConnection(LogicalConnectionManagedImpl.java:143)",
    "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.begin(LogicalConnectionManagedImpl.java:281)",
    "org.hibernate.engine.transaction.internal.TransactionImpl.begin(TransactionImpl.java:83)",
    "org.springframework.orm.jpa.vendor.HibernateJpaDialect.beginTransaction(HibernateJpaDialect.java:176)",
    "org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:420)",
    *_DB_POOL_OUTER[1:],
)
STACK_DB_POOL = _chain(
    (
        "org.springframework.transaction.CannotCreateTransactionException: Could not open JPA EntityManager "
        "for transaction",
        _DB_POOL_OUTER,
    ),
    (
        "org.hibernate.exception.JDBCConnectionException: Unable to acquire JDBC Connection ["
        + _HIKARI_TIMEOUT
        + "] [n/a]",
        _DB_POOL_JDBC,
    ),
    (
        "java.sql.SQLTransientConnectionException: " + _HIKARI_TIMEOUT,
        (
            "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)",
            "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)",
            "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:144)",
            "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:127)",
            "org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl.getConnection(DatasourceConnectionProviderImpl.java:122)",
            "org.hibernate.internal.NonContextualJdbcConnectionAccess.obtainConnection(NonContextualJdbcConnectionAccess.java:46)",
            "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.acquireConnectionIfNeeded(LogicalConnectionManagedImpl.java:113)",
            *_DB_POOL_JDBC[5:],
        ),
    ),
)
STACK_CONNECTION_LEAK = _chain(
    (
        "java.lang.Exception: Apparent connection leak detected",
        (
            "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:127)",
            "org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl.getConnection(DatasourceConnectionProviderImpl.java:122)",
            "org.hibernate.internal.NonContextualJdbcConnectionAccess.obtainConnection(NonContextualJdbcConnectionAccess.java:46)",
            "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.acquireConnectionIfNeeded(LogicalConnectionManagedImpl.java:113)",
            _frame("com.acme.payment.service.ReconciliationService.exportSettlementReport", 142),
            _frame("com.acme.payment.service.ReconciliationService.lambda$runNightly$2", 97),
            "java.base/java.util.concurrent.CompletableFuture$AsyncSupply.run(CompletableFuture.java:1768)",
            "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
            "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:642)",
            "java.base/java.lang.Thread.run(Thread.java:1583)",
        ),
    ),
)

_NPE_MSG = (
    'Cannot invoke "com.acme.order.domain.Coupon.getPercent()" because the return value of '
    '"com.acme.order.domain.Order.getCoupon()" is null'
)
STACK_NPE = _chain(
    (
        "java.lang.NullPointerException: " + _NPE_MSG,
        (
            _frame("com.acme.order.service.PricingService.applyDiscount", 64),
            _frame("com.acme.order.service.PricingService.price", 41),
            _frame("com.acme.order.service.OrderService.placeOrder", 131),
            *_ORDER_CREATE,
        ),
    ),
)

_OPTIMISTIC_OUTER = (
    "org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:325)",
    "org.springframework.orm.jpa.vendor.HibernateJpaDialect.translateExceptionIfPossible(HibernateJpaDialect.java:244)",
    "org.springframework.orm.jpa.JpaTransactionManager.doCommit(JpaTransactionManager.java:566)",
    "org.springframework.transaction.support.AbstractPlatformTransactionManager.processCommit(AbstractPlatformTransactionManager.java:795)",
    "org.springframework.transaction.support.AbstractPlatformTransactionManager.commit(AbstractPlatformTransactionManager.java:758)",
    "org.springframework.transaction.interceptor.TransactionAspectSupport.commitTransactionAfterReturning(TransactionAspectSupport.java:698)",
    "org.springframework.transaction.interceptor.TransactionAspectSupport.invokeWithinTransaction(TransactionAspectSupport.java:416)",
    *_INVENTORY_RESERVE[8:],
)
_STALE = (
    "org.hibernate.StaleObjectStateException: Row was updated or deleted by another transaction (or "
    "unsaved-value mapping was incorrect) : [com.acme.inventory.domain.StockItem#{stock_item_id}]"
)
_STALE_FRAMES = (
    "org.hibernate.persister.entity.AbstractEntityPersister.check(AbstractEntityPersister.java:2651)",
    "org.hibernate.engine.jdbc.mutation.internal.ModelMutationHelper.identifiedResultsCheck(ModelMutationHelper.java:75)",
    "org.hibernate.action.internal.EntityUpdateAction.execute(EntityUpdateAction.java:169)",
    "org.hibernate.engine.spi.ActionQueue.executeActions(ActionQueue.java:644)",
    "org.hibernate.event.internal.AbstractFlushingEventListener.performExecutions(AbstractFlushingEventListener.java:359)",
    "org.hibernate.internal.SessionImpl.doFlush(SessionImpl.java:1412)",
    "org.hibernate.engine.transaction.internal.TransactionImpl.commit(TransactionImpl.java:101)",
    "org.springframework.orm.jpa.JpaTransactionManager.doCommit(JpaTransactionManager.java:562)",
    *_OPTIMISTIC_OUTER[3:],
)
# Tomcat's "... threw exception [...] with root cause" prints the root cause alone.
STACK_OPTIMISTIC_ROOT = _chain((_STALE, _STALE_FRAMES))

_CLIENT_ABORT_OUTER = (
    "org.apache.catalina.connector.OutputBuffer.realWriteBytes(OutputBuffer.java:342)",
    "org.apache.catalina.connector.OutputBuffer.flushByteBuffer(OutputBuffer.java:778)",
    "org.apache.catalina.connector.OutputBuffer.doFlush(OutputBuffer.java:298)",
    "org.apache.catalina.connector.OutputBuffer.flush(OutputBuffer.java:271)",
    "org.apache.catalina.connector.CoyoteOutputStream.flush(CoyoteOutputStream.java:120)",
    "com.fasterxml.jackson.core.json.UTF8JsonGenerator.flush(UTF8JsonGenerator.java:1223)",
    "com.fasterxml.jackson.databind.ObjectWriter.writeValue(ObjectWriter.java:1064)",
    "org.springframework.http.converter.json.AbstractJackson2HttpMessageConverter.writeInternal(AbstractJackson2HttpMessageConverter.java:483)",
    "org.springframework.http.converter.AbstractGenericHttpMessageConverter.write(AbstractGenericHttpMessageConverter.java:114)",
    "org.springframework.web.servlet.mvc.method.annotation.AbstractMessageConverterMethodProcessor.writeWithMessageConverters(AbstractMessageConverterMethodProcessor.java:297)",
    "org.springframework.web.servlet.mvc.method.annotation.HttpEntityMethodProcessor.handleReturnValue(HttpEntityMethodProcessor.java:245)",
    "org.springframework.web.method.support.HandlerMethodReturnValueHandlerComposite.handleReturnValue(HandlerMethodReturnValueHandlerComposite.java:78)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:136)",
    *_below_handler("POST"),
)
STACK_CLIENT_ABORT = _chain(
    (
        "org.apache.catalina.connector.ClientAbortException: java.io.IOException: Broken pipe",
        _CLIENT_ABORT_OUTER,
    ),
    (
        "java.io.IOException: Broken pipe",
        (
            "java.base/sun.nio.ch.SocketDispatcher.write0(Native Method)",
            "java.base/sun.nio.ch.SocketDispatcher.write(SocketDispatcher.java:62)",
            "java.base/sun.nio.ch.IOUtil.writeFromNativeBuffer(IOUtil.java:137)",
            "java.base/sun.nio.ch.IOUtil.write(IOUtil.java:102)",
            "java.base/sun.nio.ch.SocketChannelImpl.write(SocketChannelImpl.java:542)",
            "org.apache.tomcat.util.net.NioChannel.write(NioChannel.java:122)",
            "org.apache.tomcat.util.net.NioEndpoint$NioSocketWrapper.doWrite(NioEndpoint.java:1378)",
            "org.apache.tomcat.util.net.SocketWrapperBase.doWrite(SocketWrapperBase.java:764)",
            "org.apache.tomcat.util.net.SocketWrapperBase.writeBlocking(SocketWrapperBase.java:589)",
            "org.apache.tomcat.util.net.SocketWrapperBase.write(SocketWrapperBase.java:533)",
            "org.apache.coyote.http11.Http11OutputBuffer$SocketOutputBuffer.doWrite(Http11OutputBuffer.java:533)",
            "org.apache.coyote.http11.filters.ChunkedOutputFilter.doWrite(ChunkedOutputFilter.java:112)",
            "org.apache.coyote.http11.Http11OutputBuffer.doWrite(Http11OutputBuffer.java:193)",
            "org.apache.coyote.Response.doWrite(Response.java:622)",
            "org.apache.catalina.connector.OutputBuffer.realWriteBytes(OutputBuffer.java:330)",
            *_CLIENT_ABORT_OUTER[1:],
        ),
    ),
)

_LISTENER = (
    *REFLECT,
    "org.springframework.messaging.handler.invocation.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:169)",
    "org.springframework.messaging.handler.invocation.InvocableHandlerMethod.invoke(InvocableHandlerMethod.java:119)",
    "org.springframework.kafka.listener.adapter.HandlerAdapter.invoke(HandlerAdapter.java:70)",
    "org.springframework.kafka.listener.adapter.MessagingMessageListenerAdapter.invokeHandler(MessagingMessageListenerAdapter.java:420)",
    "org.springframework.kafka.listener.adapter.MessagingMessageListenerAdapter.invoke(MessagingMessageListenerAdapter.java:384)",
    "org.springframework.kafka.listener.adapter.RecordMessagingMessageListenerAdapter.onMessage(RecordMessagingMessageListenerAdapter.java:85)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2800)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.invokeOnMessage(KafkaMessageListenerContainer.java:2778)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.lambda$doInvokeRecordListener$53(KafkaMessageListenerContainer.java:2701)",
    "io.micrometer.observation.Observation.observe(Observation.java:565)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeRecordListener(KafkaMessageListenerContainer.java:2699)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.invokeRecordListener(KafkaMessageListenerContainer.java:2430)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.pollAndInvoke(KafkaMessageListenerContainer.java:1426)",
    "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.run(KafkaMessageListenerContainer.java:1296)",
    "java.base/java.util.concurrent.CompletableFuture$AsyncRun.run(CompletableFuture.java:1804)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
)
_KAFKA_SEND = (
    "org.springframework.kafka.core.KafkaTemplate.doSend(KafkaTemplate.java:829)",
    "org.springframework.kafka.core.KafkaTemplate.observeSend(KafkaTemplate.java:792)",
    "org.springframework.kafka.core.KafkaTemplate.send(KafkaTemplate.java:594)",
    _frame("com.acme.notification.events.ReceiptPublisher.publish", 41),
    _frame("com.acme.notification.listener.OrderEventsListener.onOrderCreated", 58),
    *_LISTENER,
)
_KAFKA_METADATA_TIMEOUT = (
    "org.apache.kafka.common.errors.TimeoutException: Topic notification-events not present in metadata "
    "after 60000 ms."
)
_KAFKA_METADATA_FRAMES = (
    "org.apache.kafka.clients.producer.KafkaProducer$ClusterAndWaitTime.<init>(KafkaProducer.java:1129)",
    "org.apache.kafka.clients.producer.KafkaProducer.waitOnMetadata(KafkaProducer.java:1207)",
    "org.apache.kafka.clients.producer.KafkaProducer.doSend(KafkaProducer.java:1010)",
    "org.apache.kafka.clients.producer.KafkaProducer.send(KafkaProducer.java:962)",
    "org.springframework.kafka.core.DefaultKafkaProducerFactory$CloseSafeProducer.send(DefaultKafkaProducerFactory.java:1093)",
    *_KAFKA_SEND,
)
STACK_KAFKA_METADATA = _chain((_KAFKA_METADATA_TIMEOUT, _KAFKA_METADATA_FRAMES))
STACK_LISTENER_FAILED = _chain(
    (
        "org.springframework.kafka.listener.ListenerExecutionFailedException: Listener method 'public void "
        "com.acme.notification.listener.OrderEventsListener.onOrderCreated(com.acme.notification.events.Or"
        "derCreated)' "
        "threw exception",
        (
            "org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.decorateException(KafkaMessageListenerContainer.java:2960)",
            *_LISTENER[9:],
        ),
    ),
    (
        "org.springframework.kafka.KafkaException: Send failed",
        ("org.springframework.kafka.core.KafkaTemplate.doSend(KafkaTemplate.java:845)", *_KAFKA_SEND[1:]),
    ),
    (_KAFKA_METADATA_TIMEOUT, _KAFKA_METADATA_FRAMES),
)

_MAIL_OUTER = (
    "org.springframework.mail.javamail.JavaMailSenderImpl.doSend(JavaMailSenderImpl.java:451)",
    "org.springframework.mail.javamail.JavaMailSenderImpl.send(JavaMailSenderImpl.java:361)",
    "org.springframework.mail.javamail.JavaMailSenderImpl.send(JavaMailSenderImpl.java:356)",
    _frame("com.acme.notification.service.EmailService.sendOrderConfirmation", 73),
    _frame("com.acme.notification.listener.OrderEventsListener.onOrderCreated", 52),
    *_LISTENER,
)
_MAIL_CONNECT = (
    "org.eclipse.angus.mail.smtp.SMTPTransport.openServer(SMTPTransport.java:2260)",
    "org.eclipse.angus.mail.smtp.SMTPTransport.protocolConnect(SMTPTransport.java:753)",
    "jakarta.mail.Service.connect(Service.java:342)",
    "org.springframework.mail.javamail.JavaMailSenderImpl.connectTransport(JavaMailSenderImpl.java:518)",
    "org.springframework.mail.javamail.JavaMailSenderImpl.doSend(JavaMailSenderImpl.java:437)",
    *_MAIL_OUTER[1:],
)
STACK_MAIL = _chain(
    (
        "org.springframework.mail.MailSendException: Mail server connection failed. Failed messages: "
        "org.eclipse.angus.mail.util.MailConnectException: Couldn't connect to host, port: "
        "smtp.acme.internal, 587; timeout 5000",
        _MAIL_OUTER,
    ),
    (
        "org.eclipse.angus.mail.util.MailConnectException: Couldn't connect to host, port: "
        "smtp.acme.internal, 587; timeout 5000",
        _MAIL_CONNECT,
    ),
    (
        "java.net.SocketTimeoutException: Connect timed out",
        (
            "java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)",
            "java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:592)",
            "java.base/java.net.Socket.connect(Socket.java:751)",
            "org.eclipse.angus.mail.util.SocketFetcher.createSocket(SocketFetcher.java:372)",
            "org.eclipse.angus.mail.util.SocketFetcher.getSocket(SocketFetcher.java:243)",
            "org.eclipse.angus.mail.smtp.SMTPTransport.openServer(SMTPTransport.java:2226)",
            *_MAIL_CONNECT[1:],
        ),
    ),
)

_PSP_FRAMES = (
    "org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:116)",
    "org.springframework.web.client.StatusHandler.lambda$defaultHandler$3(StatusHandler.java:89)",
    "org.springframework.web.client.StatusHandler.handle(StatusHandler.java:146)",
    "org.springframework.web.client.DefaultRestClient$DefaultResponseSpec.applyStatusHandlers(DefaultRestClient.java:698)",
    "org.springframework.web.client.DefaultRestClient.readWithMessageConverters(DefaultRestClient.java:200)",
    "org.springframework.web.client.DefaultRestClient$DefaultResponseSpec.readBody(DefaultRestClient.java:685)",
    "org.springframework.web.client.DefaultRestClient$DefaultResponseSpec.body(DefaultRestClient.java:631)",
    _frame("com.acme.payment.client.PspClient.authorize", 88),
    _frame("com.acme.payment.service.PaymentService.charge", 79),
    *_PAYMENT_CREATE,
)
STACK_PSP_UNAVAILABLE = _chain(
    (
        "java.lang.IllegalStateException: PSP authorization failed for order {order_no}",
        (_frame("com.acme.payment.service.PaymentService.charge", 87), *_PAYMENT_CREATE),
    ),
    (
        "org.springframework.web.client.HttpServerErrorException$ServiceUnavailable: 503 Service Unavailable "
        'from POST https://psp.acme-payments.example/v1/authorizations: "upstream connect error or '
        "disconnect/"
        'reset before headers. reset reason: overflow"',
        _PSP_FRAMES,
    ),
)

# Reactor's assembly trace: the exception itself has no frames worth printing.
STACK_PREMATURE_CLOSE = _chain(
    (
        "reactor.netty.http.client.PrematureCloseException: Connection prematurely closed BEFORE response\n"
        "\tSuppressed: The stacktrace has been enhanced by Reactor, refer to additional information below: \n"
        "Error has been observed at the following site(s):\n"
        "\t*__checkpoint ⇢ org.springframework.cloud.gateway.filter.WeightCalculatorWebFilter "
        "[DefaultWebFilterChain]\n"
        "\t*__checkpoint ⇢ org.springframework.boot.actuate.metrics.web.reactive.server.MetricsWebFilter "
        "[DefaultWebFilterChain]\n"
        '\t*__checkpoint ⇢ HTTP GET "/api/orders/{order_no}" [ExceptionHandlingWebHandler]\n'
        "Original Stack Trace:",
        (),
    ),
)

# --------------------------------------------------------------------------------------
# Messages and loggers shared by several episodes
# --------------------------------------------------------------------------------------

L_ORDER_CTRL = "com.acme.order.web.OrderController"
L_ORDER_SVC = "com.acme.order.service.OrderService"
L_ORDER_EVENTS = "com.acme.order.events.OrderEventPublisher"
L_ORDER_INV = "com.acme.order.client.InventoryGateway"
L_PAY_CTRL = "com.acme.payment.web.PaymentController"
L_PAY_SVC = "com.acme.payment.service.PaymentService"
L_PSP = "com.acme.payment.client.PspClient"
L_INV_CTRL = "com.acme.inventory.web.InventoryController"
L_INV_SVC = "com.acme.inventory.service.ReservationService"
L_NOTIF_LISTENER = "com.acme.notification.listener.OrderEventsListener"
L_EMAIL = "com.acme.notification.service.EmailService"
L_ACCESS = "com.acme.gateway.filter.AccessLogFilter"
L_UPSTREAM = "com.acme.gateway.filter.UpstreamErrorLoggingFilter"
L_SQL = "org.hibernate.SQL"
L_SQL_HELPER = "org.hibernate.engine.jdbc.spi.SqlExceptionHelper"
L_HIKARI = "com.zaxxer.hikari.pool.HikariPool"
L_DISPATCHER = "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]"
L_RESOLVER = "org.springframework.web.servlet.mvc.method.annotation.ExceptionHandlerExceptionResolver"

SQL_CUSTOMER = "select c1_0.id,c1_0.email,c1_0.status,c1_0.tier from customer c1_0 where c1_0.id=?"
SQL_ORDER_INSERT = (
    "insert into orders (created_at,customer_id,status,total_amount,total_currency,version,order_no) values "
    "(?,?,?,?,?,?,?)"
)
SQL_ORDER_BY_NO = (
    "select "
    "o1_0.order_no,o1_0.created_at,o1_0.customer_id,o1_0.status,o1_0.total_amount,o1_0.total_currency,o1_0"
    ".version "
    "from orders o1_0 where o1_0.order_no=?"
)
SQL_ORDERS_BY_CUSTOMER = (
    "select o1_0.order_no,o1_0.created_at,o1_0.status,o1_0.total_amount from orders o1_0 where "
    "o1_0.customer_id=? order by o1_0.created_at desc offset ? rows fetch first ? rows only"
)
SQL_STOCK_FOR_UPDATE = (
    "select s1_0.id,s1_0.available,s1_0.reserved,s1_0.sku,s1_0.version from stock_item s1_0 where s1_0.sku=? "
    "for update"
)
SQL_STOCK_UPDATE = "update stock_item set available=?,reserved=?,version=? where id=? and version=?"
SQL_PAYMENT_INSERT = (
    "insert into payment (amount,currency,idempotency_key,order_no,psp_reference,status,id) values "
    "(?,?,?,?,?,?,?)"
)
SQL_OUTBOX = (
    "select o1_0.id,o1_0.aggregate_id,o1_0.payload,o1_0.type from outbox_event o1_0 where o1_0.published_at "
    "is null order by o1_0.created_at fetch first ? rows only"
)


def _gw_done(
    method: str, path: str, status: str, level: Level = "INFO", delay: tuple[int, int] = (1, 6)
) -> Step:
    return Step(
        G,
        level,
        L_ACCESS,
        f"{method} {path} {status} in {{elapsed_ms}} ms [client={{client_ip}}, route={{route}}]",
        REACTOR,
        delay,
    )


def _gw_upstream(method: str, path: str, status: str) -> Step:
    return Step(
        G,
        "ERROR",
        L_UPSTREAM,
        f"Upstream {{route}} responded {status} to {method} {path} after {{elapsed_ms}} ms",
        REACTOR,
        (1, 4),
    )


def _sql(service: str, sql: str, p: float = 0.08) -> Step:
    return Step(service, "DEBUG", L_SQL, sql, HTTP, (1, 4), p=p)


_ORDER_RECEIVED = Step(
    O, "INFO", L_ORDER_CTRL, "Received POST /api/orders for customer {customer}", delay=(2, 9)
)
_INV_RESERVE_IN = Step(
    I, "INFO", L_INV_CTRL, "Reserve request for order {order_no}: {sku} x{qty}", delay=(3, 12)
)
_INV_RESERVED = Step(
    I,
    "INFO",
    L_INV_SVC,
    "Reserved {qty} unit(s) of {sku} for order {order_no} (remaining stock {stock})",
    delay=(2, 25),
)
_PAY_IN = Step(
    P,
    "INFO",
    L_PAY_CTRL,
    "Charging {amount} EUR for order {order_no} (idempotency-key {idem_key})",
    delay=(3, 12),
)
_PSP_OK = Step(
    P, "INFO", L_PSP, "PSP authorization approved: pspRef={psp_ref} in {psp_ms} ms", delay="psp_ms"
)
_PAY_CAPTURED = Step(
    P,
    "INFO",
    L_PAY_SVC,
    "Payment {payment_id} captured for order {order_no}: {amount} EUR",
    delay=(2, 12),
    tags=("audit",),
)
_ORDER_CREATED = Step(
    O,
    "INFO",
    L_ORDER_SVC,
    "Order {order_no} created for customer {customer}, total {amount} EUR",
    delay=(3, 20),
)
_ORDER_PUBLISHED = Step(
    O,
    "DEBUG",
    L_ORDER_EVENTS,
    "Published OrderCreated for {order_no} to order-events-{partition}",
    delay=(1, 8),
    p=0.2,
)
_NOTIF_RECEIVED = Step(
    N,
    "INFO",
    L_NOTIF_LISTENER,
    "Received OrderCreated {order_no} from order-events-{partition}@{offset}",
    KAFKA_CONSUMER,
    (5, 60),
)
_NOTIF_SENT = Step(
    N,
    "INFO",
    L_EMAIL,
    "Sent order confirmation email for {order_no} to customer {customer} in {email_ms} ms",
    KAFKA_CONSUMER,
    "email_ms",
)
_INV_RELEASE = (
    Step(O, "INFO", L_ORDER_SVC, "Releasing stock reservation for order {order_no}", delay=(1, 5)),
    Step(I, "INFO", L_INV_SVC, "Released {qty} unit(s) of {sku} for order {order_no}", delay=(3, 15)),
)

# --------------------------------------------------------------------------------------
# Start-up (used by normal pod restarts and by scenarios)
# --------------------------------------------------------------------------------------


def startup_steps(service: str, *, fail_with_bad_config: bool = False) -> tuple[Step, ...]:
    """What a Spring Boot 3 service logs on ``main`` while it starts (or fails to)."""
    info = SERVICES[service]
    app = f"{info.package}.{info.app_class}"

    def s(level: Level, logger: str, message: str, delay: tuple[int, int] | str = (5, 120)) -> Step:
        return Step(service, level, logger, message, MAIN, delay)

    steps = [
        s(
            "INFO",
            app,
            "Starting {app_class} v{version} using Java 21.0.5 with PID 1 (/app/app.jar started by spring in "
            "/app)",
            (0, 1),
        ),
        s("INFO", app, 'The following 1 profile is active: "{env}"', (20, 60)),
    ]
    if info.reactive:
        steps += [
            s(
                "INFO",
                "org.springframework.cloud.gateway.route.RouteDefinitionRouteLocator",
                "Loaded RoutePredicateFactory [Path]",
                (600, 1400),
            ),
            s(
                "INFO",
                "org.springframework.cloud.gateway.route.RouteDefinitionRouteLocator",
                "Loaded RoutePredicateFactory [Weight]",
                (0, 3),
            ),
            s(
                "INFO",
                "org.springframework.boot.actuate.endpoint.web.EndpointLinksResolver",
                "Exposing 4 endpoints beneath base path '/actuator'",
                (200, 600),
            ),
            s(
                "INFO",
                "org.springframework.boot.web.embedded.netty.NettyWebServer",
                "Netty started on port 8080 (http)",
                (100, 400),
            ),
        ]
    else:
        if info.has_db:
            steps += [
                s(
                    "INFO",
                    "org.springframework.data.repository.config.RepositoryConfigurationDelegate",
                    "Bootstrapping Spring Data JPA repositories in DEFAULT mode.",
                    (400, 1200),
                ),
                s(
                    "INFO",
                    "org.springframework.data.repository.config.RepositoryConfigurationDelegate",
                    "Finished Spring Data repository scanning in {repo_ms} ms. Found {repo_n} JPA repository "
                    "interfaces.",
                    "repo_ms",
                ),
            ]
        steps += [
            s(
                "INFO",
                "org.springframework.boot.web.embedded.tomcat.TomcatWebServer",
                "Tomcat initialized with port 8080 (http)",
                (300, 900),
            ),
            s("INFO", "org.apache.catalina.core.StandardService", "Starting service [Tomcat]", (2, 10)),
            s(
                "INFO",
                "org.apache.catalina.core.StandardEngine",
                "Starting Servlet engine: [Apache Tomcat/10.1.33]",
                (1, 5),
            ),
            s(
                "INFO",
                "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/]",
                "Initializing Spring embedded WebApplicationContext",
                (20, 80),
            ),
            s(
                "INFO",
                "org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext",
                "Root WebApplicationContext: initialization completed in {init_ms} ms",
                (1, 5),
            ),
        ]
        if fail_with_bad_config:
            steps += [
                s(
                    "WARN",
                    "org.springframework.boot.web.servlet.context.AnnotationConfigServletWebServerApplicationContext",
                    "Exception encountered during context initialization - cancelling refresh attempt: "
                    "org.springframework.beans.factory.UnsatisfiedDependencyException: Error creating bean "
                    "with name 'pspClient' defined in URL "
                    "[jar:nested:/app/app.jar/!BOOT-INF/classes/!/com/acme/payment/client/PspClient.class]: "
                    "Unsatisfied dependency expressed through constructor parameter 0: Error creating bean "
                    "with name 'paymentGatewayProperties': Could not bind properties to "
                    "'PaymentGatewayProperties' : prefix=payment.gateway, ignoreInvalidFields=false, "
                    "ignoreUnknownFields=true",
                    (200, 700),
                ),
                s("INFO", "org.apache.catalina.core.StandardService", "Stopping service [Tomcat]", (2, 20)),
                s(
                    "INFO",
                    "org.springframework.boot.autoconfigure.logging.ConditionEvaluationReportLogger",
                    "\n\nError starting ApplicationContext. To display the condition evaluation report "
                    "re-run your application with 'debug' enabled.",
                    (5, 30),
                ),
                s(
                    "ERROR",
                    "org.springframework.boot.diagnostics.LoggingFailureAnalysisReporter",
                    "\n\n***************************\nAPPLICATION FAILED TO "
                    "START\n***************************\n\n"
                    "Description:\n\nFailed to bind properties under 'payment.gateway.timeout' to "
                    "java.time.Duration:"
                    '\n\n    Property: payment.gateway.timeout\n    Value: "30 seconds"\n    Origin: '
                    "class path resource [application.yml] - 27:14\n    Reason: failed to convert "
                    "java.lang.String to java.time.Duration (caused by java.lang.IllegalArgumentException: "
                    "'30 seconds' is not a valid duration)\n\nAction:\n\nUpdate your application's "
                    "configuration\n",
                    (1, 10),
                ),
            ]
            return tuple(steps)
        if info.has_db:
            steps += [
                s(
                    "INFO",
                    "org.hibernate.jpa.internal.util.LogHelper",
                    "HHH000204: Processing PersistenceUnitInfo [name: default]",
                    (50, 200),
                ),
                s(
                    "INFO",
                    "org.hibernate.Version",
                    "HHH000412: Hibernate ORM core version 6.5.3.Final",
                    (5, 30),
                ),
                s("INFO", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting...", (100, 400)),
                s(
                    "INFO",
                    L_HIKARI,
                    "HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@{conn_hash}",
                    (50, 300),
                ),
                s("INFO", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Start completed.", (1, 5)),
                s(
                    "INFO",
                    "org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean",
                    "Initialized JPA EntityManagerFactory for persistence unit 'default'",
                    (400, 1500),
                ),
                s(
                    "WARN",
                    "org.springframework.boot.autoconfigure.orm.jpa.JpaBaseConfiguration$JpaWebConfiguration",
                    "spring.jpa.open-in-view is enabled by default. Therefore, database queries may be "
                    "performed during view rendering. Explicitly configure spring.jpa.open-in-view to "
                    "disable this warning",
                    (300, 900),
                ),
            ]
        if info.kafka:
            steps += [
                s("INFO", "org.apache.kafka.common.utils.AppInfoParser", "Kafka version: 3.7.1", (100, 300)),
                s(
                    "INFO",
                    "org.apache.kafka.common.utils.AppInfoParser",
                    "Kafka commitId: e2494e6ffb89f828",
                    (0, 2),
                ),
            ]
        steps += [
            s(
                "INFO",
                "org.springframework.boot.actuate.endpoint.web.EndpointLinksResolver",
                "Exposing 4 endpoints beneath base path '/actuator'",
                (200, 600),
            ),
            s(
                "INFO",
                "org.springframework.boot.web.embedded.tomcat.TomcatWebServer",
                "Tomcat started on port 8080 (http) with context path '/'",
                (100, 400),
            ),
        ]
    steps.append(
        s("INFO", app, "Started {app_class} in {startup_s} seconds (process running for {proc_s})", (5, 40))
    )
    if service == N:
        steps.append(
            s(
                "INFO",
                "org.springframework.kafka.listener.KafkaMessageListenerContainer",
                "notification: partitions assigned: [order-events-0, order-events-1, order-events-2]",
                (2000, 4000),
            )
        )
    return tuple(steps)


# --------------------------------------------------------------------------------------
# Normal traffic
# --------------------------------------------------------------------------------------

NORMAL_EPISODES: tuple[EpisodeSpec, ...] = (
    EpisodeSpec(
        "place-order",
        (
            _ORDER_RECEIVED,
            _sql(O, SQL_CUSTOMER),
            _INV_RESERVE_IN,
            _sql(I, SQL_STOCK_FOR_UPDATE),
            _INV_RESERVED,
            _PAY_IN,
            _PSP_OK,
            _sql(P, SQL_PAYMENT_INSERT, 0.06),
            _PAY_CAPTURED,
            _sql(O, SQL_ORDER_INSERT, 0.06),
            _ORDER_CREATED,
            _ORDER_PUBLISHED,
            _gw_done("POST", "/api/orders", "201 CREATED"),
            _NOTIF_RECEIVED,
            _NOTIF_SENT,
        ),
        weight=18,
    ),
    EpisodeSpec(
        "get-order",
        (
            Step(O, "INFO", L_ORDER_CTRL, "Fetching order {order_no} for customer {customer}", delay=(2, 8)),
            _sql(O, SQL_ORDER_BY_NO),
            _gw_done("GET", "/api/orders/{order_no}", "200 OK", delay=(2, 30)),
        ),
        weight=28,
    ),
    EpisodeSpec(
        "list-orders",
        (
            Step(
                O,
                "INFO",
                L_ORDER_CTRL,
                "Listing orders for customer {customer} (page {page}, size 20)",
                delay=(2, 8),
            ),
            _sql(O, SQL_ORDERS_BY_CUSTOMER),
            Step(O, "INFO", L_ORDER_SVC, "Found {found} orders for customer {customer}", delay=(3, 40)),
            _gw_done("GET", "/api/orders?customer={customer}", "200 OK"),
        ),
        weight=10,
    ),
    EpisodeSpec(
        "check-availability",
        (
            Step(I, "INFO", L_INV_CTRL, "Availability check for {sku}: {stock} available", delay=(2, 15)),
            _gw_done("GET", "/api/inventory/{sku}", "200 OK"),
        ),
        weight=20,
    ),
    EpisodeSpec(
        "refund",
        (
            Step(
                P,
                "INFO",
                L_PAY_CTRL,
                "Refund of {amount} EUR requested for payment {payment_id}",
                delay=(2, 9),
            ),
            Step(
                P, "INFO", L_PSP, "PSP refund accepted: refundId={refund_id} in {psp_ms} ms", delay="psp_ms"
            ),
            Step(
                P,
                "INFO",
                L_PAY_SVC,
                "Payment {payment_id} refunded: {amount} EUR",
                delay=(2, 10),
                tags=("audit",),
            ),
            _gw_done("POST", "/api/payments/{payment_id}/refunds", "202 ACCEPTED"),
        ),
        weight=3,
    ),
    EpisodeSpec(
        "payment-declined",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            _INV_RESERVED,
            _PAY_IN,
            Step(
                P, "WARN", L_PSP, "PSP declined authorization for order {order_no}: {decline}", delay="psp_ms"
            ),
            Step(
                O,
                "WARN",
                L_ORDER_SVC,
                "Order {order_no} rejected: payment declined ({decline})",
                delay=(3, 12),
            ),
            *_INV_RELEASE,
            _gw_done("POST", "/api/orders", "402 PAYMENT_REQUIRED"),
        ),
        weight=4,
    ),
    EpisodeSpec(
        "validation-failed",
        (
            Step(
                O,
                "WARN",
                L_RESOLVER,
                "Resolved [org.springframework.web.bind.MethodArgumentNotValidException: Validation failed "
                "for argument [0] in public "
                "org.springframework.http.ResponseEntity<com.acme.order.web.OrderResponse> "
                "com.acme.order.web.OrderController.create(com.acme.order.web.CreateOrderRequest): [Field "
                "error in object 'createOrderRequest' on field 'quantity': rejected value [{bad_qty}]; codes "
                "[Min.createOrderRequest.quantity,Min.quantity,Min.int,Min]; arguments "
                "[org.springframework.context.support.DefaultMessageSourceResolvable: codes "
                "[createOrderRequest.quantity,quantity]; arguments []; default message [quantity],1]; "
                "default message [must be greater than or equal to 1]] ]",
                delay=(2, 8),
            ),
            _gw_done("POST", "/api/orders", "400 BAD_REQUEST"),
        ),
        weight=3,
    ),
    EpisodeSpec(
        "order-not-found",
        (
            Step(
                O,
                "WARN",
                "com.acme.order.web.GlobalExceptionHandler",
                "Order {order_no} not found",
                delay=(2, 10),
            ),
            _gw_done("GET", "/api/orders/{order_no}", "404 NOT_FOUND"),
        ),
        weight=6,
    ),
    EpisodeSpec(
        "jwt-expired",
        (
            Step(
                G,
                "WARN",
                "com.acme.gateway.security.JwtAuthenticationFilter",
                "Rejected GET /api/orders: JWT expired at {jwt_exp}. Current time: {now_iso}, a difference "
                "of {jwt_skew_ms} milliseconds.  Allowed clock skew: 0 milliseconds.",
                REACTOR,
                (1, 3),
                tags=("security",),
            ),
            _gw_done("GET", "/api/orders", "401 UNAUTHORIZED"),
        ),
        weight=3,
    ),
    EpisodeSpec(
        "out-of-stock",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            Step(
                I,
                "WARN",
                L_INV_SVC,
                "Insufficient stock for {sku}: requested {big_qty}, available {low}",
                delay=(2, 15),
            ),
            Step(O, "WARN", L_ORDER_SVC, "Order {order_no} rejected: {sku} out of stock", delay=(3, 10)),
            _gw_done("POST", "/api/orders", "409 CONFLICT"),
        ),
        weight=3,
    ),
    EpisodeSpec(
        "optimistic-lock",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            _sql(I, SQL_STOCK_UPDATE, 0.3),
            Step(
                I,
                "ERROR",
                L_DISPATCHER,
                "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception "
                "[Request processing failed: "
                "org.springframework.orm.ObjectOptimisticLockingFailureException: Row was updated or deleted "
                "by another transaction (or unsaved-value mapping was incorrect) : "
                "[com.acme.inventory.domain.StockItem#{stock_item_id}]] with root cause",
                delay=(5, 30),
                stack=STACK_OPTIMISTIC_ROOT,
            ),
            Step(
                O,
                "ERROR",
                L_ORDER_SVC,
                "Stock reservation failed for order {order_no}: [500] during [POST] to "
                "[http://inventory:8080/api/inventory/reservations] "
                "[InventoryClient#reserve(ReserveRequest)]",
                delay=(2, 8),
            ),
            _gw_upstream("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
            _gw_done("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
        ),
        weight=2.8,
    ),
    EpisodeSpec(
        "optimistic-lock-retried",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            Step(
                I,
                "WARN",
                L_INV_SVC,
                "Optimistic lock conflict on StockItem#{stock_item_id} ({sku}), retrying reservation for "
                "order {order_no} (attempt 2 of 3)",
                delay=(5, 30),
            ),
            _INV_RESERVED,
            _PAY_IN,
            _PSP_OK,
            _PAY_CAPTURED,
            _ORDER_CREATED,
            _gw_done("POST", "/api/orders", "201 CREATED"),
        ),
        weight=1,
    ),
    EpisodeSpec(
        "client-abort",
        (
            Step(
                O,
                "INFO",
                L_ORDER_CTRL,
                "Listing orders for customer {customer} (page {page}, size 20)",
                delay=(2, 8),
            ),
            Step(
                O,
                "WARN",
                L_RESOLVER,
                "Failure in @ExceptionHandler "
                "com.acme.order.web.GlobalExceptionHandler#handleUnexpected(Exception)",
                delay=(200, 2000),
                stack=STACK_CLIENT_ABORT,
            ),
        ),
        weight=1.2,
    ),
    EpisodeSpec(
        "smtp-failure",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            _INV_RESERVED,
            _PAY_IN,
            _PSP_OK,
            _PAY_CAPTURED,
            _ORDER_CREATED,
            _gw_done("POST", "/api/orders", "201 CREATED"),
            _NOTIF_RECEIVED,
            Step(
                N,
                "ERROR",
                L_EMAIL,
                "Failed to send order confirmation for {order_no}",
                KAFKA_CONSUMER,
                (5000, 5050),
                stack=STACK_MAIL,
            ),
            Step(
                N,
                "WARN",
                "com.acme.notification.service.RetryScheduler",
                "Order confirmation for {order_no} re-queued, next attempt in 30 s (attempt 1 of 5)",
                KAFKA_CONSUMER,
                (1, 4),
            ),
        ),
        weight=2,
    ),
    EpisodeSpec(
        "gateway-premature-close",
        (
            Step(
                G,
                "ERROR",
                "org.springframework.boot.autoconfigure.web.reactive.error.AbstractErrorWebExceptionHandler",
                '[{req_id}] 500 Server Error for HTTP GET "/api/orders/{order_no}"',
                REACTOR,
                (5, 60),
                stack=STACK_PREMATURE_CLOSE,
            ),
            _gw_done("GET", "/api/orders/{order_no}", "500 INTERNAL_SERVER_ERROR"),
        ),
        weight=2,
    ),
    EpisodeSpec(
        "psp-unavailable",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            _INV_RESERVED,
            _PAY_IN,
            Step(
                P,
                "ERROR",
                "com.acme.payment.web.GlobalExceptionHandler",
                "Unhandled exception on POST /api/payments",
                delay=(150, 600),
                stack=STACK_PSP_UNAVAILABLE,
            ),
            Step(
                O,
                "ERROR",
                L_ORDER_SVC,
                "Payment failed for order {order_no}",
                delay=(2, 6),
                stack=STACK_PAYMENT_500,
            ),
            *_INV_RELEASE,
            _gw_upstream("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
            _gw_done("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
        ),
        weight=1.8,
    ),
    EpisodeSpec(
        "duplicate-payment",
        (
            _ORDER_RECEIVED,
            _INV_RESERVE_IN,
            _INV_RESERVED,
            _PAY_IN,
            Step(P, "WARN", L_SQL_HELPER, "SQL Error: 0, SQLState: 23505", delay=(3, 12)),
            Step(
                P,
                "ERROR",
                L_SQL_HELPER,
                "ERROR: duplicate key value violates unique constraint "
                '"uk_payment_idempotency_key"\n  Detail: Key (idempotency_key)=({idem_key}) already exists.',
                delay=(0, 1),
            ),
            Step(
                P,
                "WARN",
                L_PAY_SVC,
                "Duplicate payment request for order {order_no} (idempotency-key {idem_key}), returning "
                "existing payment {payment_id}",
                delay=(1, 4),
            ),
            _ORDER_CREATED,
            _gw_done("POST", "/api/orders", "201 CREATED"),
        ),
        weight=1.5,
    ),
    EpisodeSpec(
        "method-not-supported",
        (
            Step(
                O,
                "WARN",
                "org.springframework.web.servlet.mvc.support.DefaultHandlerExceptionResolver",
                "Resolved [org.springframework.web.HttpRequestMethodNotSupportedException: Request method "
                "'PUT' is not supported]",
                delay=(1, 5),
            ),
            _gw_done("PUT", "/api/orders/{order_no}", "405 METHOD_NOT_ALLOWED"),
        ),
        weight=1.5,
    ),
    EpisodeSpec(
        "json-parse-error",
        (
            Step(
                O,
                "WARN",
                "org.springframework.web.servlet.mvc.support.DefaultHandlerExceptionResolver",
                "Resolved [org.springframework.http.converter.HttpMessageNotReadableException: JSON parse "
                "error: Unrecognized token 'NaN': was expecting (JSON String, Number, Array, Object or token "
                "'null', 'true' or 'false')]",
                delay=(1, 5),
            ),
            _gw_done("POST", "/api/orders", "400 BAD_REQUEST"),
        ),
        weight=1.5,
    ),
    EpisodeSpec(
        "rate-limited",
        (
            Step(
                G,
                "WARN",
                "com.acme.gateway.filter.RateLimitLoggingFilter",
                "Rate limit exceeded for client {client_ip} on route order-service (replenishRate=50, "
                "burstCapacity=100)",
                REACTOR,
                (0, 2),
            ),
            _gw_done("GET", "/api/orders", "429 TOO_MANY_REQUESTS", delay=(0, 1)),
        ),
        weight=2.5,
    ),
    *(
        EpisodeSpec(
            f"hikari-validate-{svc}",
            (
                Step(
                    svc,
                    "WARN",
                    "com.zaxxer.hikari.pool.PoolBase",
                    "HikariPool-1 - Failed to validate connection "
                    "org.postgresql.jdbc.PgConnection@{conn_hash} (This connection has been closed.). "
                    "Possibly consider using a shorter maxLifetime value.",
                    HTTP,
                    (0, 1),
                ),
            ),
            weight=0.2,
        )
        for svc in (O, P, I)
    ),
    # Background work: scheduled jobs (traced, one service), pool housekeeping (untraced) ...
    EpisodeSpec(
        "outbox-relay",
        (
            Step(O, "DEBUG", L_SQL, SQL_OUTBOX, SCHEDULING, (0, 2), p=0.5),
            Step(
                O,
                "INFO",
                "com.acme.order.events.OutboxRelay",
                "Outbox relay published {batch} event(s) in {job_ms} ms",
                SCHEDULING,
                "job_ms",
            ),
        ),
        weight=2.5,
    ),
    EpisodeSpec(
        "payment-reconciliation",
        (
            Step(
                P,
                "INFO",
                "com.acme.payment.service.ReconciliationJob",
                "Reconciliation run started: {pending} pending payment(s)",
                SCHEDULING,
                (0, 2),
            ),
            Step(
                P,
                "INFO",
                "com.acme.payment.service.ReconciliationJob",
                "Reconciliation run finished: {settled} settled, {still_pending} still pending in "
                "{job_ms} ms",
                SCHEDULING,
                "job_ms",
            ),
        ),
        weight=0.6,
    ),
    EpisodeSpec(
        "stock-sync",
        (
            Step(
                I,
                "INFO",
                "com.acme.inventory.sync.WarehouseSyncJob",
                "Synchronized {sku_count} SKUs from warehouse WMS in {job_ms} ms ({changed} changed)",
                SCHEDULING,
                "job_ms",
            ),
        ),
        weight=0.5,
    ),
    *(
        EpisodeSpec(
            f"hikari-stats-{svc}",
            (
                Step(
                    svc,
                    "DEBUG",
                    L_HIKARI,
                    "HikariPool-1 - Pool stats (total=10, active={active}, idle={idle}, waiting=0)",
                    HIKARI,
                    (0, 1),
                ),
                Step(
                    svc,
                    "DEBUG",
                    L_HIKARI,
                    "HikariPool-1 - Fill pool skipped, pool has sufficient level or currently being filled.",
                    HIKARI,
                    (0, 2),
                    p=0.6,
                ),
            ),
            weight=0.35,
        )
        for svc in (O, P, I)
    ),
    EpisodeSpec(
        "hikari-clock-leap",
        (
            Step(
                I,
                "WARN",
                L_HIKARI,
                "HikariPool-1 - Thread starvation or clock leap detected (housekeeper "
                "delta={housekeeper_delta}).",
                HIKARI,
                (0, 1),
            ),
        ),
        weight=0.05,
    ),
    EpisodeSpec(
        "tls-on-plain-port",
        (
            Step(
                O,
                "INFO",
                "org.apache.coyote.http11.Http11Processor",
                "Error parsing HTTP request header\n Note: further occurrences of HTTP request parsing "
                "errors will be logged at DEBUG level.",
                HTTP,
                (0, 1),
            ),
        ),
        weight=0.03,
    ),
    EpisodeSpec(
        "consumer-rebalance",
        (
            Step(
                N,
                "INFO",
                "org.apache.kafka.clients.consumer.internals.ConsumerCoordinator",
                "[Consumer clientId=consumer-notification-1, groupId=notification] Request joining group due "
                "to: group is already rebalancing",
                KAFKA_CONSUMER,
                (0, 1),
            ),
            Step(
                N,
                "INFO",
                "org.apache.kafka.clients.consumer.internals.ConsumerCoordinator",
                "[Consumer clientId=consumer-notification-1, groupId=notification] Revoke previously "
                "assigned partitions order-events-0, order-events-1, order-events-2",
                KAFKA_CONSUMER,
                (1, 10),
            ),
            Step(
                N,
                "INFO",
                "org.apache.kafka.clients.consumer.internals.ConsumerCoordinator",
                "[Consumer clientId=consumer-notification-1, groupId=notification] Adding newly assigned "
                "partitions: order-events-0, order-events-1, order-events-2",
                KAFKA_CONSUMER,
                (2000, 3500),
            ),
            Step(
                N,
                "INFO",
                "org.springframework.kafka.listener.KafkaMessageListenerContainer",
                "notification: partitions assigned: [order-events-0, order-events-1, order-events-2]",
                KAFKA_CONSUMER,
                (1, 5),
            ),
        ),
        weight=0.03,
    ),
    *(EpisodeSpec(f"restart-{svc}", startup_steps(svc), weight=0.01) for svc in DEFAULT_SERVICES),
)

# --------------------------------------------------------------------------------------
# Fault scenarios
# --------------------------------------------------------------------------------------


def template_regex(template: str) -> re.Pattern[str]:
    """Regex for a ``str.format`` message template: literal text, ``{param}`` matches anything."""
    parts = re.split(r"(?<!\{)\{[a-z_]+\}(?!\})", template)
    literal = [re.escape(p.replace("{{", "{").replace("}}", "}")) for p in parts]
    return re.compile(".+?".join(literal), re.DOTALL)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    origin_service: str
    origin_logger: str
    # The message pattern the origin emits, with {placeholders} for the variable parts.
    expected_template: str
    affected_services: tuple[str, ...]  # origin first, then the callers that log errors for it
    propagation: str
    episodes: tuple[EpisodeSpec, ...]
    onset: tuple[EpisodeSpec, ...] = ()  # played once at start_offset_s
    # Deployment the origin service's events come from (None = the generator's own version/slot).
    origin_version: str | None = None
    origin_slot: str | None = None
    start_offset_s: float = 30.0
    rate_per_s: float = 1.0  # fault episodes per simulated second

    def template_regex(self) -> re.Pattern[str]:
        """A regex that finds the expected template in a message (placeholders match anything)."""
        return template_regex(self.expected_template)

    def matches(self, message: str) -> bool:
        return self.template_regex().search(message) is not None

    def symptoms(self) -> list[tuple[str, Level, re.Pattern[str]]]:
        """(service, level, message regex) of every WARN/ERROR line the scenario's episodes log:
        the ground truth of what the fault looks like in each affected service."""
        seen: dict[tuple[str, str, str], tuple[str, Level, re.Pattern[str]]] = {}
        for spec in (*self.onset, *self.episodes):
            for step in spec.steps:
                if step.level in ("WARN", "ERROR"):
                    key = (step.service, step.level, step.message)
                    if key not in seen:
                        seen[key] = (step.service, step.level, template_regex(step.message))
        return list(seen.values())


_DB_POOL = Scenario(
    name="db-pool-exhaustion",
    description="payment's HikariCP pool is drained by a leaking reconciliation export; requests wait 30 s "
    "for a connection, fail with SQLTransientConnectionException and surface as 500s at the gateway.",
    origin_service=P,
    origin_logger=L_HIKARI,
    expected_template=_HIKARI_TIMEOUT + ".",
    affected_services=(P, O, G),
    propagation="payment 500 (CannotCreateTransactionException) → order logs HttpServerErrorException and "
    "releases the reservation → gateway logs the upstream 500; all share the request's traceId.",
    onset=(
        EpisodeSpec(
            "leak-detected",
            tuple(
                Step(
                    P,
                    "WARN",
                    "com.zaxxer.hikari.pool.ProxyLeakTask",
                    "Connection leak detection triggered for org.postgresql.jdbc.PgConnection@{conn_hash} on "
                    "thread task-{task_n}, stack trace follows",
                    HIKARI,
                    (0, 4000),
                    stack=STACK_CONNECTION_LEAK,
                )
                for _ in range(3)
            ),
        ),
    ),
    episodes=(
        EpisodeSpec(
            "pool-timeout",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                _PAY_IN,
                Step(
                    P,
                    "DEBUG",
                    L_HIKARI,
                    "HikariPool-1 - Timeout failure stats (total=10, active=10, idle=0, waiting={waiting})",
                    delay="hikari_ms",
                ),
                Step(P, "WARN", L_HIKARI, _HIKARI_TIMEOUT + ".", delay=(0, 1)),
                Step(P, "WARN", L_SQL_HELPER, "SQL Error: 0, SQLState: 08001", delay=(0, 2)),
                Step(P, "ERROR", L_SQL_HELPER, _HIKARI_TIMEOUT, delay=(0, 1)),
                Step(
                    P,
                    "ERROR",
                    "com.acme.payment.web.GlobalExceptionHandler",
                    "Unhandled exception on POST /api/payments",
                    delay=(1, 3),
                    stack=STACK_DB_POOL,
                ),
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Payment failed for order {order_no}",
                    delay=(2, 6),
                    stack=STACK_PAYMENT_500,
                ),
                *_INV_RELEASE,
                _gw_upstream("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
                _gw_done("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
            ),
            weight=4,
        ),
        EpisodeSpec(
            "pool-saturated",
            (
                Step(
                    P,
                    "DEBUG",
                    L_HIKARI,
                    "HikariPool-1 - Pool stats (total=10, active=10, idle=0, waiting={waiting})",
                    HIKARI,
                    (0, 1),
                ),
                Step(
                    P,
                    "DEBUG",
                    L_HIKARI,
                    "HikariPool-1 - Fill pool skipped, pool has sufficient level or currently being filled.",
                    HIKARI,
                    (0, 2),
                ),
            ),
            weight=1,
        ),
    ),
    start_offset_s=30.0,
    rate_per_s=0.8,
)

_DOWNSTREAM_TIMEOUT = Scenario(
    name="downstream-timeout",
    description="inventory stops answering in time; order's Feign client times out after 5 s, the "
    "'inventory' circuit breaker opens and later calls fail fast.",
    origin_service=O,
    origin_logger=L_ORDER_SVC,
    expected_template="Stock reservation failed for order {order_no}: Read timed out executing POST "
    "http://inventory:8080/api/inventory/reservations",
    affected_services=(O, I, G),
    propagation="order's read timeout → gateway returns 503; inventory later fails to write the late "
    "response (ClientAbortException: Broken pipe) under the same traceId; once the breaker is OPEN order "
    "logs CallNotPermittedException for each call.",
    onset=(
        EpisodeSpec(
            "breaker-transitions",
            (
                Step(
                    O,
                    "WARN",
                    "com.acme.order.config.ResilienceConfig",
                    "CircuitBreaker 'inventory' changed state from CLOSED to OPEN",
                    TASK,
                    (15000, 25000),
                ),
                Step(
                    O,
                    "INFO",
                    "com.acme.order.config.ResilienceConfig",
                    "CircuitBreaker 'inventory' changed state from OPEN to HALF_OPEN",
                    TASK,
                    (60000, 60000),
                ),
                Step(
                    O,
                    "WARN",
                    "com.acme.order.config.ResilienceConfig",
                    "CircuitBreaker 'inventory' changed state from HALF_OPEN to OPEN",
                    TASK,
                    (2000, 6000),
                ),
            ),
        ),
    ),
    episodes=(
        EpisodeSpec(
            "read-timeout",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _sql(I, SQL_STOCK_FOR_UPDATE, 0.5),
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Stock reservation failed for order {order_no}: Read timed out executing POST "
                    "http://inventory:8080/api/inventory/reservations",
                    delay=(5000, 5010),
                    stack=STACK_INVENTORY_FEIGN_TIMEOUT,
                ),
                _gw_upstream("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
                _gw_done("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
                Step(
                    I,
                    "INFO",
                    L_INV_SVC,
                    "Reserved {qty} unit(s) of {sku} for order {order_no} (remaining stock {stock})",
                    delay=(3000, 9000),
                ),
                Step(
                    I,
                    "WARN",
                    L_RESOLVER,
                    "Failure in @ExceptionHandler "
                    "com.acme.inventory.web.GlobalExceptionHandler#handleUnexpected(Exception)",
                    delay=(1, 5),
                    stack=STACK_CLIENT_ABORT,
                ),
            ),
            weight=3,
        ),
        EpisodeSpec(
            "call-not-permitted",
            (
                _ORDER_RECEIVED,
                Step(
                    O,
                    "WARN",
                    L_ORDER_INV,
                    "Fallback for reserve(order {order_no}): "
                    "io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker "
                    "'inventory' is OPEN and does not permit further calls",
                    delay=(1, 3),
                ),
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Order {order_no} failed: inventory unavailable",
                    delay=(0, 2),
                    stack=STACK_CALL_NOT_PERMITTED,
                ),
                _gw_upstream("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
                _gw_done("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
            ),
            weight=2,
        ),
    ),
    start_offset_s=30.0,
    rate_per_s=1.0,
)

_NPE_DISPATCH = (
    "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request "
    "processing failed: java.lang.NullPointerException: " + _NPE_MSG + "] with root cause"
)
_NPE = Scenario(
    name="npe-after-deploy",
    description="order 1.4.3 goes live in the green slot; orders without a coupon hit a NullPointerException "
    "in PricingService.applyDiscount. Blue (1.4.2) keeps working.",
    origin_service=O,
    origin_logger=L_DISPATCHER,
    expected_template=_NPE_DISPATCH,
    affected_services=(O, G),
    propagation="order (green, 1.4.3) 500 → gateway logs the upstream 500 for the same traceId.",
    origin_version="1.4.3",
    origin_slot="green",
    onset=(
        EpisodeSpec(
            "green-deploy",
            (
                *startup_steps(O),
                Step(
                    G,
                    "INFO",
                    "com.acme.gateway.routing.BlueGreenRouteConfig",
                    "Route order-service weights updated: blue=50, green=50",
                    REACTOR,
                    (1000, 3000),
                ),
            ),
        ),
    ),
    episodes=(
        EpisodeSpec(
            "npe",
            (
                _ORDER_RECEIVED,
                _sql(O, SQL_CUSTOMER, 0.5),
                Step(O, "ERROR", L_DISPATCHER, _NPE_DISPATCH, delay=(2, 10), stack=STACK_NPE),
                _gw_upstream("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
                _gw_done("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
            ),
            weight=1,
        ),
    ),
    start_offset_s=20.0,
    rate_per_s=1.0,
)

_KAFKA_NODE = (
    "[Producer clientId=producer-1] Connection to {kafka_node} could not be established. Broker may not be "
    "available."
)
_KAFKA = Scenario(
    name="kafka-producer-error",
    description="notification loses its route to the Kafka brokers; its producer cannot fetch metadata, "
    "sends block for max.block.ms and the listener gives up on the record.",
    origin_service=N,
    origin_logger="org.apache.kafka.clients.NetworkClient",
    expected_template=_KAFKA_NODE,
    affected_services=(N,),
    propagation="notification's listener runs under the traceId of the order request that published "
    "OrderCreated, so its send failures and DefaultErrorHandler errors share that traceId with "
    "order/gateway.",
    onset=(
        EpisodeSpec(
            "broker-lost",
            (
                Step(
                    N,
                    "INFO",
                    "org.apache.kafka.clients.NetworkClient",
                    "[Producer clientId=producer-1] Node 1 disconnected.",
                    KAFKA_PRODUCER,
                    (0, 1),
                ),
                Step(
                    N,
                    "WARN",
                    "org.apache.kafka.clients.NetworkClient",
                    "[Producer clientId=producer-1] Bootstrap broker kafka:9092 (id: -1 rack: null) "
                    "disconnected",
                    KAFKA_PRODUCER,
                    (500, 1500),
                ),
            ),
        ),
    ),
    episodes=(
        EpisodeSpec(
            "network-client",
            (Step(N, "WARN", "org.apache.kafka.clients.NetworkClient", _KAFKA_NODE, KAFKA_PRODUCER, (0, 1)),),
            weight=2,
        ),
        EpisodeSpec(
            "send-failed",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                _PAY_IN,
                _PSP_OK,
                _PAY_CAPTURED,
                _ORDER_CREATED,
                _gw_done("POST", "/api/orders", "201 CREATED"),
                _NOTIF_RECEIVED,
                _NOTIF_SENT,
                Step(
                    N,
                    "ERROR",
                    "org.springframework.kafka.support.LoggingProducerListener",
                    "Exception thrown when sending a message with key='{order_no}' and "
                    "payload='NotificationSent[orderNo={order_no}, channel=EMAIL]' to topic "
                    "notification-events:",
                    KAFKA_CONSUMER,
                    (60000, 60010),
                    stack=STACK_KAFKA_METADATA,
                ),
                Step(
                    N,
                    "ERROR",
                    "org.springframework.kafka.listener.DefaultErrorHandler",
                    "Backoff FixedBackOff{{interval=0, currentAttempts=1, maxAttempts=0}} exhausted for "
                    "order-events-{partition}@{offset}",
                    KAFKA_CONSUMER,
                    (1, 5),
                    stack=STACK_LISTENER_FAILED,
                ),
            ),
            weight=1,
        ),
    ),
    start_offset_s=30.0,
    rate_per_s=0.6,
)

_SLOW_QUERY = Scenario(
    name="slow-query",
    description="inventory's reservation query loses its index (sku) and takes seconds under row locks; "
    "Hibernate's slow-query log fires and the latency shows up in order and at the gateway.",
    origin_service=I,
    origin_logger="org.hibernate.SQL_SLOW",
    expected_template="Slow query took {slow_ms} milliseconds [" + SQL_STOCK_FOR_UPDATE + "]",
    affected_services=(I, O, G),
    propagation="inventory's slow query → order warns about the slow downstream call → gateway warns about "
    "the slow request; all under the request's traceId.",
    episodes=(
        EpisodeSpec(
            "slow-reserve",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                Step(
                    I,
                    "WARN",
                    "org.hibernate.SQL_SLOW",
                    "Slow query took {slow_ms} milliseconds [" + SQL_STOCK_FOR_UPDATE + "]",
                    delay="slow_ms",
                ),
                _INV_RESERVED,
                Step(
                    O,
                    "WARN",
                    L_ORDER_INV,
                    "Slow downstream call: POST http://inventory:8080/api/inventory/reservations took "
                    "{elapsed_ms} ms (threshold 2000 ms)",
                    delay=(2, 8),
                ),
                _PAY_IN,
                _PSP_OK,
                _PAY_CAPTURED,
                _ORDER_CREATED,
                Step(
                    G,
                    "WARN",
                    "com.acme.gateway.filter.SlowRequestFilter",
                    "Slow request POST /api/orders took {elapsed_ms} ms (threshold 3000 ms)",
                    REACTOR,
                    (1, 5),
                ),
                _gw_done("POST", "/api/orders", "201 CREATED", delay=(0, 1)),
            ),
            weight=3,
        ),
        EpisodeSpec(
            "slow-availability",
            (
                Step(
                    I,
                    "WARN",
                    "org.hibernate.SQL_SLOW",
                    "Slow query took {slow_ms} milliseconds [" + SQL_STOCK_FOR_UPDATE + "]",
                    delay="slow_ms",
                ),
                Step(I, "INFO", L_INV_CTRL, "Availability check for {sku}: {stock} available", delay=(2, 15)),
                Step(
                    G,
                    "WARN",
                    "com.acme.gateway.filter.SlowRequestFilter",
                    "Slow request GET /api/inventory/{sku} took {elapsed_ms} ms (threshold 3000 ms)",
                    REACTOR,
                    (1, 5),
                ),
                _gw_done("GET", "/api/inventory/{sku}", "200 OK", delay=(0, 1)),
            ),
            weight=1,
        ),
    ),
    start_offset_s=30.0,
    rate_per_s=0.8,
)

_BAD_CONFIG = Scenario(
    name="bad-config",
    description="a config change sets payment.gateway.timeout to '30 seconds' (not a Duration); payment pods "
    "crash-loop at start-up and order's calls to payment are refused.",
    origin_service=P,
    origin_logger="org.springframework.boot.diagnostics.LoggingFailureAnalysisReporter",
    expected_template="Failed to bind properties under 'payment.gateway.timeout'",
    affected_services=(P, O, G),
    propagation="payment never starts (no traceId on main) → order's RestTemplate gets Connection refused "
    "and releases the reservation → gateway logs a 502; order, inventory and gateway share the request's "
    "traceId.",
    onset=(EpisodeSpec("first-crash", startup_steps(P, fail_with_bad_config=True)),),
    episodes=(
        EpisodeSpec("crash-loop", startup_steps(P, fail_with_bad_config=True), weight=1),
        EpisodeSpec(
            "connection-refused",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Payment failed for order {order_no}",
                    delay=(1, 4),
                    stack=STACK_PAYMENT_CONNECTION_REFUSED,
                ),
                *_INV_RELEASE,
                _gw_upstream("POST", "/api/orders", "502 BAD_GATEWAY"),
                _gw_done("POST", "/api/orders", "502 BAD_GATEWAY"),
            ),
            weight=8,
        ),
    ),
    start_offset_s=30.0,
    rate_per_s=0.8,
)

# A slower payment PSP with RestTemplate read timeouts; not a named scenario of the brief but a useful extra.
_PAYMENT_TIMEOUT = Scenario(
    name="payment-timeout",
    description="payment's PSP call hangs; order's RestTemplate read timeout (10 s) fires and the 'payment' "
    "circuit breaker opens.",
    origin_service=O,
    origin_logger=L_ORDER_SVC,
    expected_template='I/O error on POST request for "http://payment:8080/api/payments": Read timed out',
    affected_services=(O, P, G),
    propagation="order's read timeout → gateway 504; payment logs the late PSP answer under the same "
    "traceId.",
    onset=(
        EpisodeSpec(
            "breaker-open",
            (
                Step(
                    O,
                    "WARN",
                    "com.acme.order.config.ResilienceConfig",
                    "CircuitBreaker 'payment' changed state from CLOSED to OPEN",
                    TASK,
                    (20000, 30000),
                ),
            ),
        ),
    ),
    episodes=(
        EpisodeSpec(
            "psp-hang",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                _PAY_IN,
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Payment failed for order {order_no}: I/O error on POST request for "
                    '"http://payment:8080/api/payments": Read timed out',
                    delay=(10000, 10010),
                    stack=STACK_PAYMENT_READ_TIMEOUT,
                ),
                *_INV_RELEASE,
                _gw_upstream("POST", "/api/orders", "504 GATEWAY_TIMEOUT"),
                _gw_done("POST", "/api/orders", "504 GATEWAY_TIMEOUT"),
                Step(
                    P,
                    "WARN",
                    L_PSP,
                    "PSP authorization for order {order_no} answered after {slow_ms} ms",
                    delay="slow_ms",
                ),
            ),
            weight=3,
        ),
        EpisodeSpec(
            "payment-breaker-open",
            (
                _ORDER_RECEIVED,
                Step(
                    O,
                    "WARN",
                    "com.acme.order.client.PaymentClient",
                    "CircuitBreaker 'payment' is OPEN and does not permit further calls; order {order_no} "
                    "parked as PAYMENT_PENDING",
                    delay=(1, 4),
                ),
                _gw_done("POST", "/api/orders", "202 ACCEPTED"),
            ),
            weight=1,
        ),
    ),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (_DB_POOL, _DOWNSTREAM_TIMEOUT, _NPE, _KAFKA, _SLOW_QUERY, _BAD_CONFIG, _PAYMENT_TIMEOUT)
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def all_episode_specs() -> list[EpisodeSpec]:
    """Every spec the generator can play (normal traffic and all scenarios), for checks and docs."""
    specs = list(NORMAL_EPISODES)
    for sc in SCENARIOS.values():
        specs += [*sc.onset, *sc.episodes]
    return specs


# --------------------------------------------------------------------------------------
# More fault scenarios (issue 6: the analyses fault suite). Appended: the ones above are unchanged.
# --------------------------------------------------------------------------------------

_PSP_429_FRAMES = (
    "org.springframework.web.client.HttpClientErrorException.create(HttpClientErrorException.java:137)",
    *_PSP_FRAMES[1:],
)
STACK_PSP_RATE_LIMITED = _chain(
    (
        "org.springframework.web.client.HttpClientErrorException$TooManyRequests: 429 Too Many Requests "
        'from POST https://psp.acme-payments.example/v1/authorizations: "{{"error":"rate_limited",'
        '"retry_after":{task_n}}}"',
        _PSP_429_FRAMES,
    ),
)
_PAYMENT_503 = _chain(
    (
        "org.springframework.web.client.HttpServerErrorException$ServiceUnavailable: 503 Service "
        'Unavailable: "{{"status":503,"error":"Service Unavailable","path":"/api/payments"}}"',
        (
            "org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:116)",
            "org.springframework.web.client.DefaultResponseErrorHandler.handleError(DefaultResponseErrorHandler.java:186)",
            "org.springframework.web.client.RestTemplate.handleResponse(RestTemplate.java:942)",
            *_REST_POST,
        ),
    ),
)
_PSP_429 = "PSP rejected authorization for order {order_no}: 429 Too Many Requests (retry after {task_n} s)"
_PSP_RATE_LIMITED = Scenario(
    name="psp-rate-limited",
    description="the external PSP throttles payment (HTTP 429 with Retry-After); payment answers 503 and "
    "order's checkout fails.",
    origin_service=P,
    origin_logger=L_PSP,
    expected_template=_PSP_429,
    affected_services=(P, O, G),
    propagation="payment's PSP call gets 429 → payment 503 → order logs HttpServerErrorException naming "
    "http://payment:8080 → gateway logs the upstream 503; one traceId.",
    episodes=(
        EpisodeSpec(
            "psp-429",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                _PAY_IN,
                Step(P, "WARN", L_PSP, _PSP_429, delay=(40, 300), stack=STACK_PSP_RATE_LIMITED),
                Step(
                    P,
                    "ERROR",
                    L_PAY_SVC,
                    "Payment for order {order_no} not authorized: PSP unavailable, answering 503",
                    delay=(1, 3),
                ),
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    'Payment failed for order {order_no}: 503 on POST request for "http://payment:8080/api/payments"',
                    delay=(2, 6),
                    stack=_PAYMENT_503,
                ),
                *_INV_RELEASE,
                _gw_upstream("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
                _gw_done("POST", "/api/orders", "503 SERVICE_UNAVAILABLE"),
            ),
        ),
    ),
    rate_per_s=0.5,
)

_REDIS_TIMEOUT_MSG = "Redis command timed out after 2 second(s)"
_INV_CACHE = (
    "org.springframework.data.redis.connection.lettuce.LettuceConnection.convertLettuceAccessException(LettuceConnection.java:267)",
    "org.springframework.data.redis.connection.lettuce.LettuceStringCommands.get(LettuceStringCommands.java:65)",
    "org.springframework.data.redis.cache.DefaultRedisCacheWriter.get(DefaultRedisCacheWriter.java:140)",
    "org.springframework.data.redis.cache.RedisCache.lookup(RedisCache.java:174)",
    "org.springframework.cache.interceptor.CacheAspectSupport.findInCaches(CacheAspectSupport.java:559)",
    _frame("com.acme.inventory.service.StockCache.available", 44),
    _frame("com.acme.inventory.service.ReservationService.reserve", 61),
    *_INVENTORY_RESERVE,
)
STACK_REDIS_TIMEOUT = _chain(
    ("org.springframework.dao.QueryTimeoutException: " + _REDIS_TIMEOUT_MSG, _INV_CACHE),
    (
        "io.lettuce.core.RedisCommandTimeoutException: Command timed out after 2 second(s)",
        (
            "io.lettuce.core.internal.ExceptionFactory.createTimeoutException(ExceptionFactory.java:59)",
            "io.lettuce.core.internal.Futures.awaitOrCancel(Futures.java:246)",
            "io.lettuce.core.LettuceFutures.awaitOrCancel(LettuceFutures.java:74)",
            *_INV_CACHE,
        ),
    ),
)
STACK_INVENTORY_FEIGN_500 = _chain(
    (
        "feign.FeignException$InternalServerError: [500] during [POST] to "
        "[http://inventory:8080/api/inventory/reservations] [InventoryClient#reserve(ReservationRequest)]: "
        '[{{"status":500,"error":"Internal Server Error","path":"/api/inventory/reservations"}}]',
        (
            "feign.FeignException.serverErrorStatus(FeignException.java:260)",
            "feign.FeignException.errorStatus(FeignException.java:206)",
            "feign.codec.ErrorDecoder$Default.decode(ErrorDecoder.java:103)",
            *_FEIGN_RESERVE,
        ),
    ),
)
_REDIS_TIMEOUT = Scenario(
    name="redis-timeout",
    description="inventory's Redis stock cache stops answering; lookups time out after 2 s, inventory "
    "answers 500 and order cannot reserve stock.",
    origin_service=I,
    origin_logger="com.acme.inventory.web.GlobalExceptionHandler",
    expected_template="Request POST /api/inventory/reservations failed: " + _REDIS_TIMEOUT_MSG,
    affected_services=(I, O, G),
    propagation="inventory's QueryTimeoutException (RedisCommandTimeoutException) → 500 → order's Feign "
    "client logs the 500 naming http://inventory:8080 → gateway logs the upstream 500; one traceId.",
    episodes=(
        EpisodeSpec(
            "cache-timeout",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                Step(
                    I,
                    "ERROR",
                    "com.acme.inventory.web.GlobalExceptionHandler",
                    "Request POST /api/inventory/reservations failed: " + _REDIS_TIMEOUT_MSG,
                    delay=(2000, 2010),
                    stack=STACK_REDIS_TIMEOUT,
                ),
                Step(
                    O,
                    "ERROR",
                    L_ORDER_SVC,
                    "Stock reservation failed for order {order_no}: [500] during [POST] to "
                    "[http://inventory:8080/api/inventory/reservations]",
                    delay=(3, 9),
                    stack=STACK_INVENTORY_FEIGN_500,
                ),
                _gw_upstream("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
                _gw_done("POST", "/api/orders", "500 INTERNAL_SERVER_ERROR"),
            ),
        ),
    ),
    rate_per_s=0.5,
)

_DESER_MSG = (
    "Consumer exception: Error deserializing key/value for partition order-events-{partition} at offset "
    "{offset}. If needed, please seek past the record to continue consumption."
)
STACK_DESERIALIZATION = _chain(
    (
        "java.lang.IllegalStateException: This error handler cannot process 'SerializationException's "
        "directly; please consider configuring an 'ErrorHandlingDeserializer' in the value and/or key "
        "deserializer",
        (
            "org.springframework.kafka.listener.DefaultErrorHandler.handleOtherException(DefaultErrorHandler.java:192)",
            *_LISTENER[-8:],
        ),
    ),
    (
        "org.apache.kafka.common.errors.RecordDeserializationException: " + _DESER_MSG,
        (
            "org.apache.kafka.clients.consumer.internals.CompletedFetch.parseRecord(CompletedFetch.java:331)",
            "org.apache.kafka.clients.consumer.internals.CompletedFetch.fetchRecords(CompletedFetch.java:283)",
            "org.apache.kafka.clients.consumer.KafkaConsumer.poll(KafkaConsumer.java:1199)",
            *_LISTENER[-6:],
        ),
    ),
    (
        "com.fasterxml.jackson.databind.exc.InvalidDefinitionException: Cannot construct instance of "
        "`com.acme.notification.events.OrderCreated` (no Creators, like default constructor, exist)",
        (
            "com.fasterxml.jackson.databind.exc.InvalidDefinitionException.from(InvalidDefinitionException.java:67)",
            "org.springframework.kafka.support.serializer.JsonDeserializer.deserialize(JsonDeserializer.java:587)",
            "org.apache.kafka.clients.consumer.internals.CompletedFetch.parseRecord(CompletedFetch.java:321)",
            *_LISTENER[-6:],
        ),
    ),
)
_KAFKA_DESERIALIZATION = Scenario(
    name="kafka-deserialization",
    description="order starts publishing a new OrderCreated schema; notification's JsonDeserializer cannot "
    "read it and its listener container logs the poison records.",
    origin_service=N,
    origin_logger="org.springframework.kafka.listener.KafkaMessageListenerContainer",
    expected_template=_DESER_MSG,
    affected_services=(N,),
    propagation="the container logs the failure under the traceId of the order request that published the "
    "record (B3/W3C headers); orders still succeed (201), only notifications are missing.",
    episodes=(
        EpisodeSpec(
            "poison-record",
            (
                _ORDER_RECEIVED,
                _INV_RESERVE_IN,
                _INV_RESERVED,
                _PAY_IN,
                _PSP_OK,
                _PAY_CAPTURED,
                _ORDER_CREATED,
                _gw_done("POST", "/api/orders", "201 CREATED"),
                Step(
                    N,
                    "ERROR",
                    "org.springframework.kafka.listener.KafkaMessageListenerContainer",
                    _DESER_MSG,
                    KAFKA_CONSUMER,
                    (5, 60),
                    stack=STACK_DESERIALIZATION,
                ),
            ),
        ),
    ),
    rate_per_s=0.3,
)

SCENARIOS.update({s.name: s for s in (_PSP_RATE_LIMITED, _REDIS_TIMEOUT, _KAFKA_DESERIALIZATION)})
