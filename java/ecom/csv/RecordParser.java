package ecom.csv;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One CSV record from its lines, exactly as Python's csv module reads it (the "excel" dialect:
 * delimiter ',', quote '"' doubled inside quotes, no escape character, not strict), so that the
 * batch path and ecom_etl's csv_records give the same fields, text and reasons
 * (docs/data-contract.md, "File rules"). It works on bytes: every byte the state machine looks at
 * is ASCII, and UTF-8 never uses an ASCII byte inside a character, so a field's bytes are the
 * bytes Python's field would encode to. A field without quotes is a range of the record's bytes; a
 * field with quotes is copied, unquoted, to a second buffer.
 */
final class RecordParser {
  static final int FIELDS = 8;

  private enum State { START_RECORD, START_FIELD, IN_FIELD, IN_QUOTED_FIELD, QUOTE_IN_QUOTED_FIELD, EAT_CRNL }

  private State state = State.START_RECORD;
  private final Bytes unquoted = new Bytes(256);
  private int count;
  private int[] starts = new int[16];
  private int[] ends = new int[16];
  private boolean[] quoted = new boolean[16];
  private int fieldStart; // where the field under way starts: in the record, or in `unquoted`
  private boolean fieldQuoted;

  /** Forget any record under way. */
  void reset() {
    state = State.START_RECORD;
    count = 0;
    unquoted.clear();
  }

  /**
   * Feed the line that is record[from, to) (its line break included, as Python's readlines keeps
   * it). Returns true when the record is complete; false when a quoted field goes on in the next
   * line.
   */
  boolean feedLine(byte[] record, int from, int to) {
    for (int i = from; i < to; i++) {
      process(record[i], i);
    }
    processEndOfLine(to);
    return state == State.START_RECORD;
  }

  /** The input ended inside a quoted field: Python keeps what it has as the last field. */
  void endOfInput(int at) {
    if (state == State.IN_QUOTED_FIELD) {
      saveField(at);
    }
    state = State.START_RECORD;
  }

  /** The number of fields of the record just completed (0 for a blank line: no record). */
  int count() {
    return count;
  }

  boolean isQuoted(int field) {
    return quoted[field];
  }

  int start(int field) {
    return starts[field];
  }

  int length(int field) {
    return ends[field] - starts[field];
  }

  /** The buffer the unquoted text of quoted fields is in. */
  byte[] unquotedBytes() {
    return unquoted.data;
  }

  private void process(byte c, int at) {
    switch (state) {
      case START_RECORD:
        if (c == '\n' || c == '\r') {
          state = State.EAT_CRNL;
          return;
        }
        state = State.START_FIELD;
        // fall through: the character starts a field
      case START_FIELD:
        fieldStart = at;
        fieldQuoted = false;
        if (c == '\n' || c == '\r') {
          saveField(at);
          state = State.EAT_CRNL;
        } else if (c == '"') {
          fieldQuoted = true;
          fieldStart = unquoted.length;
          state = State.IN_QUOTED_FIELD;
        } else if (c == ',') {
          saveField(at);
        } else {
          state = State.IN_FIELD;
        }
        return;
      case IN_FIELD:
        if (c == '\n' || c == '\r') {
          saveField(at);
          state = State.EAT_CRNL;
        } else if (c == ',') {
          saveField(at);
          state = State.START_FIELD;
        } else if (fieldQuoted) {
          unquoted.add(c);
        }
        return;
      case IN_QUOTED_FIELD:
        if (c == '"') {
          state = State.QUOTE_IN_QUOTED_FIELD;
        } else {
          unquoted.add(c);
        }
        return;
      case QUOTE_IN_QUOTED_FIELD:
        if (c == '"') {
          unquoted.add(c);
          state = State.IN_QUOTED_FIELD;
        } else if (c == ',') {
          saveField(at);
          state = State.START_FIELD;
        } else if (c == '\n' || c == '\r') {
          saveField(at);
          state = State.EAT_CRNL;
        } else {
          unquoted.add(c);
          state = State.IN_FIELD;
        }
        return;
      case EAT_CRNL:
        return; // only line-break bytes follow a line break within one line
      default:
        throw new IllegalStateException(state.name());
    }
  }

  private void processEndOfLine(int at) {
    switch (state) {
      case START_RECORD:
      case EAT_CRNL:
        state = State.START_RECORD;
        return;
      case START_FIELD:
        fieldStart = at;
        fieldQuoted = false;
        saveField(at);
        state = State.START_RECORD;
        return;
      case IN_FIELD:
      case QUOTE_IN_QUOTED_FIELD:
        saveField(at);
        state = State.START_RECORD;
        return;
      case IN_QUOTED_FIELD:
        return; // the quoted field holds the line break and goes on
      default:
        throw new IllegalStateException(state.name());
    }
  }

  private void saveField(int at) {
    if (count == starts.length) {
      starts = Arrays.copyOf(starts, count * 2);
      ends = Arrays.copyOf(ends, count * 2);
      quoted = Arrays.copyOf(quoted, count * 2);
    }
    quoted[count] = fieldQuoted;
    starts[count] = fieldStart;
    ends[count] = fieldQuoted ? unquoted.length : at;
    count++;
    fieldQuoted = false;
  }

  /** Length of the well-formed UTF-8 character at i, or 0 when the byte there starts none. */
  static int utf8Length(byte[] b, int i, int end) {
    int c = b[i] & 0xff;
    if (c < 0x80) {
      return 1;
    }
    int n;
    int lo = 0x80;
    int hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) {
        lo = 0xa0;
      } else if (c == 0xed) {
        hi = 0x9f; // no surrogates
      }
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) {
        lo = 0x90;
      } else if (c == 0xf4) {
        hi = 0x8f;
      }
    } else {
      return 0;
    }
    if (i + n > end) {
      return 0;
    }
    int second = b[i + 1] & 0xff;
    if (second < lo || second > hi) {
      return 0;
    }
    for (int k = 2; k < n; k++) {
      int next = b[i + k] & 0xff;
      if (next < 0x80 || next > 0xbf) {
        return 0;
      }
    }
    return n;
  }

  static boolean isUtf8(byte[] b, int start, int end) {
    int i = start;
    while (i < end) {
      if (b[i] >= 0) {
        i++;
        continue;
      }
      int n = utf8Length(b, i, end);
      if (n == 0) {
        return false;
      }
      i += n;
    }
    return true;
  }

  /**
   * The text of bytes that are not all UTF-8: each byte outside a well-formed character written
   * as \xNN, as Python's surrogateescape and backslashreplace give it.
   */
  static byte[] shown(byte[] b, int start, int end) {
    StringBuilder out = new StringBuilder(end - start + 16);
    int i = start;
    while (i < end) {
      int n = utf8Length(b, i, end);
      if (n == 0) {
        out.append(String.format("\\x%02x", b[i] & 0xff));
        i += 1;
      } else {
        out.append(new String(b, i, n, StandardCharsets.UTF_8));
        i += n;
      }
    }
    return out.toString().getBytes(StandardCharsets.UTF_8);
  }
}
