package com.acme.orders.web;

/** Raised when an order cannot be processed; carries the order id for the error log. */
public class OrderFailedException extends IllegalStateException {

    private final long orderId;

    public OrderFailedException(long orderId, String message, Throwable cause) {
        super(message, cause);
        this.orderId = orderId;
    }

    public long getOrderId() {
        return orderId;
    }
}
