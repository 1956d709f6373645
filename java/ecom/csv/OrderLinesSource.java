package ecom.csv;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * The batch job's CSV reader: order-line records of plain and gzipped CSV files, in the JVM.
 *
 * Spark's own CSV source cannot keep the data contract (it drops lines of blanks, turns empty
 * fields into nulls, reads stray quotes otherwise than Python and writes invalid bytes as U+FFFD),
 * so this source reads the records itself, as RecordParser says, in the columns of
 * ecom_etl's RECORD_COLUMNS, and `record_offset`: where the record starts in its file (in the
 * gzip file's text), or -1 when it spans lines (a quoted line break). The driver plans the pieces (option "piece.N", see Piece): a plain
 * file larger than a split is read in parts by several tasks, each with memory that does not grow
 * with the file; a gzip file is read by one task, streamed.
 */
public final class OrderLinesSource implements TableProvider {
  private static final String[] FIELDS = {
    "raw_invoice_no", "raw_stock_code", "raw_description", "raw_quantity",
    "raw_invoice_ts", "raw_unit_price", "raw_customer_id", "raw_country", "raw_line", "source"
  };
  static final StructType SCHEMA = schema();

  private static StructType schema() {
    List<StructField> fields = new ArrayList<>();
    for (String name : FIELDS) {
      fields.add(DataTypes.createStructField(name, DataTypes.StringType, true));
    }
    fields.add(DataTypes.createStructField("read_reasons", DataTypes.createArrayType(DataTypes.StringType, false), false));
    fields.add(DataTypes.createStructField("record_offset", DataTypes.LongType, false));
    return DataTypes.createStructType(fields);
  }

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    return SCHEMA;
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
    return new LinesTable(pieces(properties));
  }

  /** The pieces of the options, grouped by partition, in partition order. */
  private static List<List<Piece>> pieces(Map<String, String> options) {
    TreeMap<Integer, List<Piece>> byPartition = new TreeMap<>();
    TreeMap<Integer, String> ordered = new TreeMap<>();
    for (Map.Entry<String, String> option : options.entrySet()) {
      String key = option.getKey().toLowerCase();
      if (key.startsWith("piece.")) {
        ordered.put(Integer.parseInt(key.substring("piece.".length())), option.getValue());
      }
    }
    for (String text : ordered.values()) {
      byPartition.computeIfAbsent(Piece.partitionOf(text), k -> new ArrayList<>()).add(Piece.parse(text));
    }
    return new ArrayList<>(byPartition.values());
  }

  private static final class LinesTable implements Table, SupportsRead, Scan, Batch {
    private final List<List<Piece>> partitions;

    LinesTable(List<List<Piece>> partitions) {
      this.partitions = partitions;
    }

    @Override
    public String name() {
      return "ecom order lines";
    }

    @Override
    @SuppressWarnings("deprecation") // Spark 3.5 has no other way to give the schema
    public StructType schema() {
      return SCHEMA;
    }

    @Override
    public Set<TableCapability> capabilities() {
      return EnumSet.of(TableCapability.BATCH_READ);
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
      return () -> this;
    }

    @Override
    public StructType readSchema() {
      return SCHEMA;
    }

    @Override
    public Batch toBatch() {
      return this;
    }

    @Override
    public InputPartition[] planInputPartitions() {
      InputPartition[] out = new InputPartition[partitions.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = new Pieces(partitions.get(i).toArray(new Piece[0]));
      }
      return out;
    }

    @Override
    public PartitionReaderFactory createReaderFactory() {
      return new ReaderFactory(SparkContext.getOrCreate().hadoopConfiguration());
    }
  }

  private static final class Pieces implements InputPartition {
    private static final long serialVersionUID = 1L;
    final Piece[] pieces;

    Pieces(Piece[] pieces) {
      this.pieces = pieces;
    }
  }

  /** Carries the driver's Hadoop configuration (S3A's settings among them) to the tasks. */
  private static final class ReaderFactory implements PartitionReaderFactory {
    private static final long serialVersionUID = 1L;
    private final byte[] conf;

    ReaderFactory(Configuration conf) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (DataOutputStream data = new DataOutputStream(out)) {
        conf.write(data);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      this.conf = out.toByteArray();
    }

    @Override
    public PartitionReader<InternalRow> createReader(InputPartition partition) {
      Configuration hadoop = new Configuration(false);
      try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(conf))) {
        hadoop.readFields(in);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new PiecesReader(hadoop, ((Pieces) partition).pieces);
    }
  }

  private static final class PiecesReader implements PartitionReader<InternalRow> {
    private final Configuration conf;
    private final Piece[] pieces;
    private int next;
    private PieceReader current;

    PiecesReader(Configuration conf, Piece[] pieces) {
      this.conf = conf;
      this.pieces = pieces;
    }

    @Override
    public boolean next() throws IOException {
      while (current == null || !current.next()) {
        close();
        if (next == pieces.length) {
          return false;
        }
        current = new PieceReader(conf, pieces[next++]);
      }
      return true;
    }

    @Override
    public InternalRow get() {
      return current.row();
    }

    @Override
    public void close() throws IOException {
      if (current != null) {
        current.close();
        current = null;
      }
    }
  }
}
