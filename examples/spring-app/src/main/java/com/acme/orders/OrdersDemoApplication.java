package com.acme.orders;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class OrdersDemoApplication {

    public static void main(String[] args) {
        SpringApplication.run(OrdersDemoApplication.class, args);
    }
}
