package com.acme.orders.web;

import java.math.BigDecimal;

/** Body of {@code POST /api/orders}. */
public record CreateOrderRequest(long customerId, BigDecimal total) {
}
