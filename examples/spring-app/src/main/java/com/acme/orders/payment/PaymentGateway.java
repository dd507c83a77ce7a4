package com.acme.orders.payment;

import java.net.SocketTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/** Stand-in for an HTTP client to a payment provider that is timing out. */
@Component
public class PaymentGateway {

    private static final Logger log = LoggerFactory.getLogger(PaymentGateway.class);

    public void authorize(long orderId, long customerId) throws SocketTimeoutException {
        log.debug("POST /v1/authorizations order={} customer={}", orderId, customerId);
        throw new SocketTimeoutException("Read timed out");
    }
}
