/* dot.h — pictures of the IR: a Graph as Graphviz dot text (`kiln ir MODEL
 * --dot`), and rendering that text to SVG or PNG with Graphviz's `dot`
 * program when it is installed (`--svg FILE`, `--png FILE`). */
#ifndef KILN_IR_DOT_H
#define KILN_IR_DOT_H

#include "ir.h"

/* Appends the live graph as a dot digraph: one box per node (op, node name,
 * output dtype[shape], its constant inputs), one ellipse per graph input and
 * output, edges along the data flow, nodes filled by op family with a
 * legend. Values without a known type print their name only, so the IR can
 * be drawn at any stage. */
void ir_print_dot(const Graph *g, StrBuf *out);

/* The family an op's row sits in: "conv" for a row in ops_conv.def, "core"
 * for ops.def itself. Used for colours and the ops table. */
const char *ir_op_family(OpKind op);

/* True when Graphviz's `dot` program is on PATH. */
bool ir_dot_available(void);

/* Renders dot text to path in format ("svg" or "png") by running `dot`.
 * False with a one-line message in d when dot is missing (naming the Debian
 * package) or fails; path is written only on success. */
bool ir_dot_render(const char *text, size_t len, const char *format, const char *path, Diag *d);

#endif
