package ecom.csv;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The records of one piece of a file: the records that start in [start, end), the header record
 * of the file left out. A piece that is not its whole file starts at the first line that starts at
 * or after `start` and so assumes no record crosses a line break there; it checks this by failing
 * with {@link #WHOLE_FILE} as soon as it meets a record that spans lines (a quoted line break),
 * and the file is then read again as one piece. By induction from the file's first piece, when no
 * piece fails every piece started at a record's start.
 */
final class PieceReader implements AutoCloseable {
  /** The start of the message asking for a file to be read as one piece. */
  static final String WHOLE_FILE = "ecom-etl: read whole: ";
  /** The start of a message about input that cannot be read (the CLI shows it on one line). */
  static final String INPUT_ERROR = "EtlInputError: ";
  private static final byte[] BOM = {(byte) 0xef, (byte) 0xbb, (byte) 0xbf};

  private static final GenericArrayData NONE = reasons();
  private static final GenericArrayData MALFORMED = reasons("malformed_record");
  private static final GenericArrayData NOT_UTF8 = reasons("not_utf8");
  private static final GenericArrayData BOTH = reasons("malformed_record", "not_utf8");

  private final Piece piece;
  private final InputStream stream;
  private final LineInput input;
  private final RecordParser parser = new RecordParser();
  private final Bytes record = new Bytes(1024);
  private int lineStart;
  private final Object[] values = new Object[RecordParser.FIELDS + 4];
  private final InternalRow row = new GenericInternalRow(values);
  private boolean headerPending;

  PieceReader(Configuration conf, Piece piece) throws IOException {
    this.piece = piece;
    values[RecordParser.FIELDS + 1] = UTF8String.fromString(piece.uri);
    Path path = new Path(piece.uri);
    FileSystem fs = path.getFileSystem(conf);
    InputStream opened;
    try {
      opened = fs.open(path);
    } catch (IOException e) {
      throw inputError(e);
    }
    try {
      if (piece.gzip) {
        this.stream = new GZIPInputStream(opened, 1 << 16);
        this.input = new LineInput(stream, 0);
      } else {
        this.stream = opened;
        this.input = new LineInput(stream, startOfFirstLine((FSDataInputStream) opened));
      }
      if (input.position() == 0) {
        input.skip(BOM);
        headerPending = true;
      }
    } catch (IOException e) {
      opened.close();
      throw inputError(e);
    }
  }

  /** Seeks to the first line that starts at or after the piece's start; returns its offset. */
  private long startOfFirstLine(FSDataInputStream in) throws IOException {
    if (piece.start == 0) {
      return 0;
    }
    in.seek(piece.start - 1);
    LineInput probe = new LineInput(in, piece.start - 1);
    int before = probe.read();
    if (before == '\n' || (before == '\r' && probe.peek() != '\n')) {
      in.seek(piece.start);
      return piece.start;
    }
    probe.skipLine(); // the rest of a line that started in the piece before
    in.seek(probe.position());
    return probe.position();
  }

  /** Reads the next record of the piece; false when there is none. */
  boolean next() throws IOException {
    try {
      while (true) {
        input.skipLineBreaks();
        long start = input.position();
        if (start >= piece.end) {
          return false;
        }
        int lines = readRecord();
        if (lines == 0) {
          return false;
        }
        if (parser.count() == 0) {
          continue; // a blank line holds no record
        }
        if (headerPending) {
          headerPending = false; // checked by the driver before any read
          continue;
        }
        fillRow(lines == 1 ? start : -1);
        return true;
      }
    } catch (EOFException | ZipException e) {
      throw inputError(e);
    }
  }

  InternalRow row() {
    return row;
  }

  /** Reads one record's lines into `record`; returns how many (0 at the end of the stream). */
  private int readRecord() throws IOException {
    parser.reset();
    record.clear();
    if (!input.readLine(record)) {
      return 0;
    }
    int lines = 1;
    while (!parser.feedLine(record.data, lineStart, record.length)) {
      if (!piece.isWholeFile()) {
        throw new IOException(WHOLE_FILE + piece.uri);
      }
      lineStart = record.length;
      if (!input.readLine(record)) {
        parser.endOfInput(record.length);
        break;
      }
      lines++;
    }
    lineStart = 0;
    return lines;
  }

  /** The record's text without its last line break, as Python's reader keeps it. */
  private int textLength() {
    int n = record.length;
    byte[] b = record.data;
    if (n >= 2 && b[n - 2] == '\r' && b[n - 1] == '\n') {
      return n - 2;
    }
    if (n >= 1 && (b[n - 1] == '\n' || b[n - 1] == '\r')) {
      return n - 1;
    }
    return n;
  }

  /**
   * The row of the record just read: its fields (ranges of the record's bytes, not copies: Spark
   * takes a row's values before it asks for the next), text and reasons, its source and offset.
   */
  private void fillRow(long offset) {
    int text = textLength();
    boolean utf8 = RecordParser.isUtf8(record.data, 0, text);
    int fields = parser.count();
    boolean malformed = fields != RecordParser.FIELDS;
    for (int i = 0; i < RecordParser.FIELDS; i++) {
      if (i >= fields) {
        values[i] = null;
        continue;
      }
      byte[] from = parser.isQuoted(i) ? parser.unquotedBytes() : record.data;
      int start = parser.start(i);
      int length = parser.length(i);
      values[i] = utf8
          ? UTF8String.fromBytes(from, start, length)
          : UTF8String.fromBytes(RecordParser.shown(from, start, start + length));
    }
    if (malformed || !utf8) {
      byte[] raw = utf8 ? Arrays.copyOf(record.data, text) : RecordParser.shown(record.data, 0, text);
      values[RecordParser.FIELDS] = UTF8String.fromBytes(raw);
      values[RecordParser.FIELDS + 2] = malformed && !utf8 ? BOTH : malformed ? MALFORMED : NOT_UTF8;
    } else {
      values[RecordParser.FIELDS] = null;
      values[RecordParser.FIELDS + 2] = NONE;
    }
    values[RecordParser.FIELDS + 3] = offset;
  }

  private static GenericArrayData reasons(String... names) {
    Object[] out = new Object[names.length];
    for (int i = 0; i < names.length; i++) {
      out[i] = UTF8String.fromString(names[i]);
    }
    return new GenericArrayData(out);
  }

  /** An error about the input, named in one line: a gzip file that is cut short or damaged. */
  private IOException inputError(IOException cause) {
    String detail = String.valueOf(cause.getMessage()).split("\n", 2)[0];
    String what = cause instanceof EOFException || cause instanceof ZipException
        ? "is not complete gzip data (" + detail + ")"
        : "cannot be read (" + detail + ")";
    return new IOException(INPUT_ERROR + piece.uri + " " + what, cause);
  }

  @Override
  public void close() throws IOException {
    stream.close();
  }
}
