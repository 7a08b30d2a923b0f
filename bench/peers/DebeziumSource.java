/*
 * bench/peers: Debezium's embedded engine draining the outbox into Kafka, configured as a
 * production deployment would be: PostgresConnector (pgoutput), the outbox EventRouter, JSON
 * converters, a Kafka producer with acks=all and idempotence, and offsets committed only after
 * the producer flushed the batch (every send acknowledged). Compiled and run by bench/peers/run.
 *
 *   java -cp 'LIBS/*:CLASSES' DebeziumSource ENGINE.properties PRODUCER.properties EXPECTED
 *
 * Runs until EXPECTED records were acknowledged by Kafka and their offsets committed, then
 * closes the engine and exits 0; exits 1 when Kafka refused a record or the engine stopped
 * with an error. Prints one line: how many records, and the engine's own first-to-last time.
 */
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.JsonByteArray;
import io.debezium.engine.format.KeyValueHeaderChangeEventFormat;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class DebeziumSource {
    private DebeziumSource() {}

    static Properties load(String path) throws IOException {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(path)) {
            p.load(in);
        }
        return p;
    }

    /** Sends one batch, waits for every acknowledgement, and only then marks it processed. */
    static final class Sink
            implements DebeziumEngine.ChangeConsumer<ChangeEvent<byte[], byte[]>> {
        final KafkaProducer<byte[], byte[]> producer;
        final AtomicReference<Exception> failure = new AtomicReference<>();
        final AtomicLong sent = new AtomicLong();
        final AtomicLong batches = new AtomicLong();
        final long expected;
        final CountDownLatch done = new CountDownLatch(1);
        volatile long firstNanos, lastNanos;

        Sink(KafkaProducer<byte[], byte[]> producer, long expected) {
            this.producer = producer;
            this.expected = expected;
        }

        @Override
        public void handleBatch(List<ChangeEvent<byte[], byte[]>> records,
                DebeziumEngine.RecordCommitter<ChangeEvent<byte[], byte[]>> committer)
                throws InterruptedException {
            if (firstNanos == 0)
                firstNanos = System.nanoTime();
            long n = 0;
            for (ChangeEvent<byte[], byte[]> r : records) {
                if (r.value() == null)
                    continue;
                List<org.apache.kafka.common.header.Header> headers = new ArrayList<>();
                for (io.debezium.engine.Header<?> h : r.headers())
                    headers.add(new RecordHeader(h.getKey(), (byte[]) h.getValue()));
                producer.send(new ProducerRecord<>(r.destination(), null, r.key(), r.value(),
                                      headers),
                        (md, e) -> {
                            if (e != null)
                                failure.compareAndSet(null, e);
                        });
                n++;
            }
            // The offsets of this batch may be committed only once Kafka holds every record.
            producer.flush();
            if (failure.get() != null)
                throw new RuntimeException("Kafka refused a record", failure.get());
            for (ChangeEvent<byte[], byte[]> r : records)
                committer.markProcessed(r);
            committer.markBatchFinished();
            lastNanos = System.nanoTime();
            batches.incrementAndGet();
            if (sent.addAndGet(n) >= expected)
                done.countDown();
        }
    }

    /** This process's peak resident set in kB (VmHWM of /proc/self/status), or "0". */
    static String peakRssKb() throws IOException {
        for (String line : java.nio.file.Files.readAllLines(
                     java.nio.file.Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmHWM:"))
                return line.replaceAll("[^0-9]", "");
        }
        return "0";
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println(
                    "usage: DebeziumSource ENGINE.properties PRODUCER.properties EXPECTED");
            System.exit(2);
        }
        Properties engineProps = load(args[0]);
        Properties producerProps = load(args[1]);
        long expected = Long.parseLong(args[2]);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps,
                new ByteArraySerializer(), new ByteArraySerializer());
        Sink sink = new Sink(producer, expected);
        AtomicReference<Throwable> engineError = new AtomicReference<>();
        DebeziumEngine<ChangeEvent<byte[], byte[]>> engine =
                DebeziumEngine
                        .create(KeyValueHeaderChangeEventFormat.of(
                                JsonByteArray.class, JsonByteArray.class, JsonByteArray.class))
                        .using(engineProps)
                        .notifying(sink)
                        .using((success, message, error) -> {
                            if (!success) {
                                engineError.set(error != null ? error
                                                              : new RuntimeException(message));
                                sink.done.countDown();
                            }
                        })
                        .build();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        sink.done.await();
        engine.close(); // commits the offsets of every processed batch
        executor.shutdown();
        executor.awaitTermination(60, TimeUnit.SECONDS);
        producer.close();
        if (engineError.get() != null || sink.failure.get() != null) {
            Throwable t = engineError.get() != null ? engineError.get() : sink.failure.get();
            System.err.println("debezium: stopped: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        double s = (sink.lastNanos - sink.firstNanos) / 1e9;
        System.out.printf("debezium: %d records in %d batches acknowledged by Kafka, first to last "
                        + "batch %.2f s, VmHWM %s kB%n",
                sink.sent.get(), sink.batches.get(), s, peakRssKb());
        System.exit(0);
    }
}
