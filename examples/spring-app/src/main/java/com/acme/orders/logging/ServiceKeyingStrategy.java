package com.acme.orders.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import com.github.danielwegener.logback.kafka.keying.KeyingStrategy;
import java.nio.charset.StandardCharsets;

/**
 * Keys every Kafka record with the service name, so all lines of one service land on one
 * partition (in order) and LogLens can fall back to the key when a line has no "service".
 *
 * <p>Configured in logback-spring.xml: {@code <keyingStrategy class="...ServiceKeyingStrategy">
 * <service>orders-demo</service></keyingStrategy>}.
 */
public class ServiceKeyingStrategy implements KeyingStrategy<ILoggingEvent> {

    private byte[] key = "unknown".getBytes(StandardCharsets.UTF_8);

    public void setService(String service) {
        if (service != null && !service.isBlank()) {
            this.key = service.trim().getBytes(StandardCharsets.UTF_8);
        }
    }

    @Override
    public byte[] createKey(ILoggingEvent event) {
        return key;
    }
}
