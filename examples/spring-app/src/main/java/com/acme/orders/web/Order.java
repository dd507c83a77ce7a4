package com.acme.orders.web;

import java.math.BigDecimal;

/** An order as the API returns it. */
public record Order(long id, long customerId, String status, BigDecimal total) {
}
