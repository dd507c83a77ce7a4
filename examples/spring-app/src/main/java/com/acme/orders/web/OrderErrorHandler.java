package com.acme.orders.web;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/** Logs failed orders at ERROR with the full exception (→ {@code stack_trace}) and answers 500. */
@RestControllerAdvice
public class OrderErrorHandler {

    private static final Logger log = LoggerFactory.getLogger(OrderErrorHandler.class);

    @ExceptionHandler(OrderFailedException.class)
    public ProblemDetail orderFailed(OrderFailedException ex) {
        log.error("Order {} failed", ex.getOrderId(), ex);
        ProblemDetail body = ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR, ex.getMessage());
        body.setTitle("Order failed");
        body.setProperty("orderId", ex.getOrderId());
        return body;
    }
}
