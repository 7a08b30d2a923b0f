/*
 * bench/peers: Debezium's JDBC sink connector applying the relay's topic to PostgreSQL, driven
 * the way a Kafka Connect worker drives a sink task, without the worker: a KafkaConsumer reads
 * the topic, each record's value (Avro single-object encoding, as outbox-relay writes it) is
 * converted to a Connect Struct, JdbcSinkConnectorTask.put() receives each polled batch, then
 * preCommit() flushes the task and returns the offsets it has written, and only those are
 * committed to Kafka (at-least-once, like outbox-projector). Compiled and run by bench/peers/run.
 *
 *   java -cp 'LIBS/*:CLASSES' DebeziumJdbcSink SINK.properties CONSUMER.properties TOPIC \
 *        SCHEMA.avsc EXPECTED
 *
 * SINK.properties: the connector's configuration (connection.url, insert.mode, ...).
 * CONSUMER.properties: the KafkaConsumer's (bootstrap.servers, group.id, ...).
 * Runs until EXPECTED records were written and their offsets committed, then stops the task
 * and exits 0; exits 1 when a record cannot be decoded or the task failed. Prints one line:
 * how many records, the rate from the first to the last commit, and the peak RSS.
 */
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.avro.Schema.Parser;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.metrics.PluginMetrics;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.apache.kafka.connect.sink.SinkTaskContext;

public final class DebeziumJdbcSink {
    private DebeziumJdbcSink() {}

    /** The row the projector's model also writes: posts(post_id, ..., event_id). */
    static final Schema UUID = SchemaBuilder.string().name("io.debezium.data.Uuid").build();
    static final Schema POST = SchemaBuilder.struct()
                                       .name("posts")
                                       .field("post_id", UUID)
                                       .field("author_id", Schema.STRING_SCHEMA)
                                       .field("author_name", Schema.STRING_SCHEMA)
                                       .field("title", Schema.STRING_SCHEMA)
                                       .field("body", Schema.STRING_SCHEMA)
                                       .field("created_at", Timestamp.SCHEMA)
                                       .field("event_id", UUID)
                                       .build();

    static Properties load(String path) throws IOException {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(path)) {
            p.load(in);
        }
        return p;
    }

    /** What a worker's context offers a task; this loop assigns every partition itself. */
    static final class Context implements SinkTaskContext {
        final Map<String, String> configs;
        final Set<TopicPartition> assignment;

        Context(Map<String, String> configs, Set<TopicPartition> assignment) {
            this.configs = configs;
            this.assignment = assignment;
        }

        @Override
        public Map<String, String> configs() {
            return configs;
        }
        @Override
        public void offset(Map<TopicPartition, Long> offsets) {}
        @Override
        public void offset(TopicPartition tp, long offset) {}
        @Override
        public void timeout(long ms) {}
        @Override
        public Set<TopicPartition> assignment() {
            return assignment;
        }
        @Override
        public void pause(TopicPartition... partitions) {}
        @Override
        public void resume(TopicPartition... partitions) {}
        @Override
        public void requestCommit() {}
        @Override
        public PluginMetrics pluginMetrics() {
            return null;
        }
    }

    /** The Avro event and the record's "id" header as the Struct of one posts row. */
    static Struct toRow(GenericRecord e, ConsumerRecord<byte[], byte[]> r) {
        Header id = r.headers().lastHeader("id");
        if (id == null)
            throw new IllegalStateException("record at offset " + r.offset() + " has no id header");
        return new Struct(POST)
                .put("post_id", e.get("post_id").toString())
                .put("author_id", e.get("author_id").toString())
                .put("author_name", e.get("author_name").toString())
                .put("title", e.get("title").toString())
                .put("body", e.get("body").toString())
                .put("created_at", new Date((Long) e.get("created_at")))
                .put("event_id", new String(id.value(), java.nio.charset.StandardCharsets.UTF_8));
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
        if (args.length != 5) {
            System.err.println("usage: DebeziumJdbcSink SINK.properties CONSUMER.properties TOPIC "
                    + "SCHEMA.avsc EXPECTED");
            System.exit(2);
        }
        Map<String, String> sinkProps = new HashMap<>();
        load(args[0]).forEach((k, v) -> sinkProps.put((String) k, (String) v));
        String topic = args[2];
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(
                GenericData.get(), new Parser().parse(new File(args[3])));
        long expected = Long.parseLong(args[4]);

        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(load(args[1]),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        Set<TopicPartition> parts = new HashSet<>();
        for (PartitionInfo p : consumer.partitionsFor(topic))
            parts.add(new TopicPartition(topic, p.partition()));
        consumer.assign(parts);
        consumer.seekToBeginning(parts);

        SinkTask task = new io.debezium.connector.jdbc.JdbcSinkConnectorTask();
        task.initialize(new Context(sinkProps, Collections.unmodifiableSet(parts)));
        task.start(sinkProps);
        task.open(parts);

        // Like a worker's: the next offset of every assigned partition (what preCommit() falls
        // back on for a partition the task has written nothing of yet).
        Map<TopicPartition, OffsetAndMetadata> position = new HashMap<>();
        for (TopicPartition tp : parts)
            position.put(tp, new OffsetAndMetadata(consumer.position(tp)));
        long committed = 0, atFirst = 0, firstNanos = 0, lastNanos = 0, commits = 0;
        int status = 0;
        try {
            while (committed < expected) {
                ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(500));
                if (polled.isEmpty())
                    continue;
                List<SinkRecord> batch = new ArrayList<>(polled.count());
                for (ConsumerRecord<byte[], byte[]> r : polled) {
                    batch.add(new SinkRecord(r.topic(), r.partition(), Schema.OPTIONAL_BYTES_SCHEMA,
                            r.key(), POST, toRow(decoder.decode(r.value()), r), r.offset(),
                            r.timestamp(), r.timestampType()));
                    position.put(new TopicPartition(r.topic(), r.partition()),
                            new OffsetAndMetadata(r.offset() + 1));
                }
                task.put(batch);
                // Only what the task reports written (it flushes here) is committed to Kafka.
                Map<TopicPartition, OffsetAndMetadata> done =
                        task.preCommit(new HashMap<>(position));
                if (done.isEmpty())
                    continue;
                consumer.commitSync(done);
                commits++;
                // The topic is new and read from offset 0: offsets count the records.
                committed = 0;
                for (OffsetAndMetadata o : done.values())
                    committed += o.offset();
                lastNanos = System.nanoTime();
                if (firstNanos == 0) {
                    firstNanos = lastNanos;
                    atFirst = committed;
                }
            }
        } catch (Exception e) {
            System.err.println("debezium jdbc sink: stopped: " + e);
            e.printStackTrace();
            status = 1;
        }
        task.stop();
        consumer.close();
        if (status != 0)
            System.exit(status);
        double s = (lastNanos - firstNanos) / 1e9;
        System.out.printf("debezium-jdbc: %d records written and committed in %d commits, first to "
                        + "last commit %.2f s, %.0f events/s, VmHWM %s kB%n",
                committed, commits, s, s > 0 ? (committed - atFirst) / s : 0.0, peakRssKb());
        System.exit(0);
    }
}
