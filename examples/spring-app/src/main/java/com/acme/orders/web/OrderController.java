package com.acme.orders.web;

import com.acme.orders.payment.PaymentGateway;
import java.math.BigDecimal;
import java.net.SocketTimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

@RestController
@RequestMapping("/api/orders")
public class OrderController {

    private static final Logger log = LoggerFactory.getLogger(OrderController.class);

    private final PaymentGateway paymentGateway;
    private final AtomicLong nextId = new AtomicLong(1000);

    public OrderController(PaymentGateway paymentGateway) {
        this.paymentGateway = paymentGateway;
    }

    @GetMapping("/{id}")
    public Order get(@PathVariable long id) {
        long customerId = customerOf(id);
        log.info("Fetching order {} for customer {}", id, customerId);
        return new Order(id, customerId, "CONFIRMED", BigDecimal.valueOf(19.99 + id % 50));
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    public Order create(@RequestBody CreateOrderRequest request) {
        long id = nextId.incrementAndGet();
        log.info("Created order {} for customer {} total {}", id, request.customerId(), request.total());
        return new Order(id, request.customerId(), "NEW", request.total());
    }

    /** Always fails: the payment provider times out, the order is declined (ERROR + stack trace). */
    @GetMapping("/{id}/fail")
    public Order fail(@PathVariable long id) {
        long customerId = customerOf(id);
        log.info("Charging order {} for customer {}", id, customerId);
        try {
            paymentGateway.authorize(id, customerId);
        } catch (SocketTimeoutException e) {
            throw new OrderFailedException(id, "Payment declined for order " + id, e);
        }
        return new Order(id, customerId, "PAID", BigDecimal.ZERO);
    }

    private static long customerOf(long orderId) {
        return 7000 + orderId % 500;
    }
}
