"""Syntax -> IR: names, automatic names, block expansion, defaults and argument checks.

The sequence: the blocks' headers are checked (`define_block`); the network's input and output shapes
are read (`network`); then each scope's lines are named and lowered in order (`scope`, `line`). A line
calling a built-in op binds its arguments against the vocabulary table and builds the op's IR node
(`builtin`); a line calling a block expands it in a scope of its own (`instance`). References between
layers are resolved last (scopes.References).

Every mistake becomes a diagnostic; lowering goes on after one, so a file reports all of its argument
and name errors in one run. A layer that cannot be built stays as `ir.Invalid`, its shape unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Related, error
from alexnet_dsl.frontend import declared, syntax
from alexnet_dsl.frontend.binding import BoundOp, bind_block, bind_op
from alexnet_dsl.frontend.foreign import is_missing_op
from alexnet_dsl.frontend.scopes import LocalName, Ref, References, Scope, name_lines
from alexnet_dsl.frontend.suggest import Context, renamed_op
from alexnet_dsl.frontend.vocabulary import OPS, RESERVED, OpSpec
from alexnet_dsl.source import Source, Span

MAX_BLOCK_DEPTH = 64


@dataclass(frozen=True, slots=True)
class _Site:
    """The line being lowered: its layer's names, the scope it is in, what it reads and asserts."""

    line: syntax.Line
    name: str  # unique: dotted inside a block instance (`stage1.conv`)
    shown: str  # as messages show it
    shown_under_another_name: bool  # see Scope.shown_under_another_name (a name written twice)
    scope: Scope
    source: str | Ref  # what it reads: the line before it, or its `from`
    assertion: ir.Assertion | None

    @property
    def op(self) -> syntax.Name:
        return self.line.call.op


class _Lowerer:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.diags: list[Diagnostic] = []
        self.blocks: dict[str, syntax.Block] = {}
        self.shadowed: set[str] = set()  # blocks named like a built-in op (reported, not defined)
        self.broken: set[str] = set()  # blocks whose definition is wrong: calls are not checked
        self.block_params: dict[str, str] = {}  # a block parameter's name -> the (first) block it is of
        self.refs = References()
        self.layers: list[ir.Layer] = []
        self.inputs: list[tuple[str | Ref, ...]] = []  # per layer, what it reads, resolved at the end
        self.instance_assertions: list[tuple[str | Ref, ir.Assertion]] = []
        self.input_dims: declared.Dims | None = None  # None: the input shape is broken
        self.output_dims: declared.Dims = ()  # the network's declared output, for a help's examples

    def err(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diags.append(error(code, message, span, **kw))

    # -- the file
    def lower(self, file: syntax.File) -> ir.Network | None:
        batch = declared.written_batch(file.networks[0].input_shape) if file.networks else None
        for block in file.blocks:
            self.define_block(block, batch)
        if not file.networks:
            self.err(
                "E0003",
                "this file defines no network",
                Span.point(1, 1),
                helps=("add `network NAME(input: [N, C, H, W]) { ... }`",),
            )
            return None
        first = Related("the first network", file.networks[0].name.span)
        for extra in file.networks[1:]:
            self.err(
                "E0003", "a file defines one network; this is a second one", extra.name.span, related=(first,)
            )
        return self.network(file.networks[0])

    def define_block(self, block: syntax.Block, batch: str | None) -> None:
        """Register a block, unless its name is taken; check its parameters' names."""
        name = block.name.text
        if name in self.blocks:
            first = Related(f"`{name}` first defined here", self.blocks[name].name.span)
            self.err("E0201", f"block `{name}` is defined twice", block.name.span, related=(first,))
            return
        if name in OPS:
            self.err(
                "E0204",
                f"block `{name}` has the name of a built-in op",
                block.name.span,
                helps=("rename the block",),
            )
            self.shadowed.add(name)
            return
        self.blocks[name] = block
        seen: dict[str, Span] = {}
        for param in block.params:
            key, at = param.name.text, param.name.span
            if key == batch and key not in seen:
                # inside the block `N` would be the parameter, and `-> [N, ...]` a number in the batch's place
                self.err(
                    "E0204",
                    f"block parameter `{key}` has the name of the batch symbol",
                    at,
                    notes=(
                        f"`{batch}` is the batch size of the network's input; in the block's "
                        f"assertions (`-> [{batch}, ...]`) it must stay the batch",
                    ),
                    helps=("rename the parameter",),
                )
                self.broken.add(name)
            if key in seen:
                self.err(
                    "E0201",
                    f"parameter `{key}` is defined twice",
                    at,
                    related=(Related("first defined here", seen[key]),),
                )
                self.broken.add(name)
            seen.setdefault(key, at)
            self.block_params.setdefault(key, name)

    def network(self, net: syntax.Network) -> ir.Network | None:
        input_name = net.input.text
        if input_name in RESERVED:
            self.err("E0204", f"`{input_name}` cannot name the input", net.input.span)
        dims, dim_spans = declared.read_shape(net.input_shape, "input", self.diags)
        if dims is not None and not declared.check_input(dims, dim_spans, net.input_shape.span, self.diags):
            dims = None  # shapes cannot be checked against a broken input
        output = None
        if net.output_shape is not None:
            out_dims, out_spans = declared.read_shape(net.output_shape, "output", self.diags)
            self.output_dims = out_dims or ()
            if (
                out_dims is not None
                and dims is not None
                and declared.check_declared(out_dims, out_spans, dims, "output", self.diags)
            ):
                output = ir.Assertion(out_dims, net.output_shape.span, out_spans)
        self.input_dims = dims
        scope = self.refs.scope("", "", {}, ())
        scope.names[input_name] = net.input.span
        self.refs.bind(scope, input_name, input_name)
        self.scope(net.body, scope, input_name, stack=())
        layers = self.refs.resolve(self.layers, self.inputs, self.instance_assertions, self.diags)
        if dims is None:
            return None
        return ir.Network(
            name=net.name.text,
            input_name=input_name,
            input_dims=dims,
            input_dim_spans=dim_spans,
            output=output,
            layers=tuple(layers),
            name_span=net.name.span,
        )

    # -- scopes: the body of the network or of one block instance
    def scope(
        self, body: tuple[syntax.Line, ...], scope: Scope, first: str | Ref, stack: tuple[str, ...]
    ) -> str | Ref:
        """Lower a scope's lines in order, each reading the one before it (the first reads `first`);
        what its last line stands for. `stack`: the blocks being expanded, outermost first."""
        previous = first
        for line, local in zip(body, name_lines(body, scope, self.diags)):
            self.refs.bind(scope, local.key, self.line(line, local, scope, previous, stack))
            previous = Ref(scope.sid, local.key, line.span)
        return previous

    def line(
        self, line: syntax.Line, local: LocalName, scope: Scope, previous: str | Ref, stack: tuple[str, ...]
    ) -> str | Ref:
        shape = line.assertion
        assertion = declared.assertion(shape, scope.env, self.input_dims, self.diags) if shape else None
        source = Ref(scope.sid, line.source.text, line.source.span) if line.source else previous
        name, shown = scope.prefix + local.key, scope.display_name(local)
        site = _Site(line, name, shown, scope.shown_under_another_name(local), scope, source, assertion)
        op = line.call.op.text
        if op in self.blocks:
            return self.instance(site, self.blocks[op], stack)
        spec = OPS.get(op)
        if spec is None:
            self.unknown_op(site)
            return self.placeholder(site)
        return self.builtin(site, spec)

    def context(self, site: _Site) -> Context:
        """What the help texts of the line's mistakes read around it."""
        symbols = None if self.input_dims is None else {d for d in self.input_dims if isinstance(d, str)}
        line_dims = site.assertion.dims if site.assertion is not None else ()
        return Context(self.source, site.scope.env, self.block_params, symbols, line_dims, self.output_dims)

    # -- built-in ops
    def builtin(self, site: _Site, spec: OpSpec) -> str:
        """A layer of a built-in op: its arguments bound and checked, its IR node built."""
        call, mark = site.line.call, len(self.diags)
        if spec.variadic_refs:
            inputs, bound = self.joined(site), BoundOp({}, (), (), [])
        else:
            inputs, bound = [site.source], bind_op(site.op.text, spec, call, self.context(site))
            self.diags += bound.diagnostics
        node = None
        if bound.values is not None:
            built = spec.build(bound.values, dict(bound.spans), site.op.span)
            if isinstance(built, Diagnostic):
                self.diags.append(built)
            else:
                node = built
        if site.op.text in self.shadowed and len(self.diags) > mark:
            # a call that is wrong for the built-in op was probably meant for the block of that name:
            # the block's name is the one mistake, reported once
            del self.diags[mark:]
            node = None
        if node is None:
            return self.placeholder(site)
        name = site.line.name
        self.add(
            site,
            node,
            inputs,
            name_span=name.span if name is not None else None,
            arg_spans=bound.spans,
            source_text=bound.texts,
        )
        return site.name

    def joined(self, site: _Site) -> list[str | Ref]:
        """What `add(a, b)` / `concat(a, b)` read: the layers named in its parentheses."""
        op, call = site.op, site.line.call
        refs: list[str | Ref] = []
        for arg in call.args:
            if arg.key is not None or arg.value.kind != "name":
                self.err(
                    "E0104",
                    f"`{op.text}` takes the names of the layers it joins",
                    arg.value.span,
                    helps=(f"write `{op.text}(a, b)` with layer names",),
                )
                continue
            refs.append(Ref(site.scope.sid, str(arg.value.value), arg.value.span))
        if site.line.source is not None:
            self.err(
                "E0106",
                f"`{op.text}` names its inputs in parentheses; `from` is not used",
                site.line.source.span,
            )
        if len(refs) < 2 and len(refs) == len(call.args):
            self.err(
                "E0103",
                f"`{op.text}` joins at least two layers",
                op.span,
                helps=(f"write `{op.text}(a, b)`",),
            )
        return refs or [site.source]

    def unknown_op(self, site: _Site) -> None:
        """No op or block of that name: another framework's op that dslc lacks, or a did-you-mean."""
        op, call = site.op, site.line.call
        ops = "built-in ops: " + ", ".join(f"`{o}`" for o in OPS)
        if is_missing_op(op.text) and op.text.lower() not in {b.lower() for b in self.blocks}:
            # no near spelling of ours: it would compute something else
            self.err(
                "E0101",
                f"unknown op `{op.text}`",
                op.span,
                notes=(ops,),
                helps=(f"`{op.text}` is not an op of dslc yet",),
            )
            return
        context = self.context(site)
        renamed = renamed_op(
            call, self.blocks, lambda meant: bind_op(meant, OPS[meant], call, context).diagnostics
        )
        self.err(
            "E0101", f"unknown op `{op.text}`", op.span, helps=() if renamed else (ops,), rewrites=renamed
        )

    # -- blocks
    def instance(self, site: _Site, block: syntax.Block, stack: tuple[str, ...]) -> str | Ref:
        """A block's call expanded: its lines lowered in a scope of their own, named `call.line`."""
        name, op = block.name.text, site.op
        if name in stack:  # a real cycle: the block is being expanded inside itself
            cycle = " -> ".join(f"`{b}`" for b in (*stack[stack.index(name) :], name))
            self.err("E0203", f"block `{name}` uses itself: {cycle}", op.span)
            return self.placeholder(site)
        if len(stack) >= MAX_BLOCK_DEPTH:  # no cycle, only deep: a limit of ours, said as such
            chain = [*stack, name]
            shown = chain if len(chain) <= 6 else [*chain[:3], "...", *chain[-2:]]
            self.err(
                "E0205",
                f"blocks are nested more than {MAX_BLOCK_DEPTH} levels deep",
                op.span,
                label=f"level {len(chain)}",
                notes=("the calls: " + " -> ".join(b if b == "..." else f"`{b}`" for b in shown),),
                helps=(
                    f"expand some of the blocks into their callers: at most {MAX_BLOCK_DEPTH} levels are supported",
                ),
            )
            return self.placeholder(site)
        if name in self.broken:  # its definition is the mistake, reported once: not each call
            return self.placeholder(site)
        env, diags = bind_block(block, site.line.call, site.scope.env)
        self.diags += diags
        if env is None:
            return self.placeholder(site)
        instance = (*site.scope.instance, (site.name, name, site.line.span))
        as_instance = site.shown_under_another_name  # its layers are all shown as the instance
        shown = site.shown if as_instance else site.shown + "."
        inner = self.refs.scope(site.name + ".", shown, env, instance, as_instance=as_instance)
        inner.names["input"] = None
        self.refs.bind(inner, "input", site.source)
        last = self.scope(block.body, inner, site.source, (*stack, name))
        if site.assertion is not None:
            self.instance_assertions.append((last, site.assertion))
        return last

    # -- layers
    def placeholder(self, site: _Site) -> str:
        """A layer whose op could not be built: shape unknown, checked no further."""
        self.add(site, ir.Invalid(site.op.text), [site.source])
        return site.name

    def add(self, site: _Site, op: ir.Op, inputs: list[str | Ref], **fields) -> None:
        layer = ir.Layer(
            name=site.name,
            op=op,
            inputs=(),  # resolved at the end
            span=site.line.span,
            op_span=site.op.span,
            assertions=(site.assertion,) if site.assertion else (),
            instance=site.scope.instance,
            shown_as=site.shown,
            **fields,
        )
        self.layers.append(layer)
        self.inputs.append(tuple(inputs))


def lower(file: syntax.File, source: Source) -> tuple[ir.Network | None, list[Diagnostic]]:
    """Lower a parsed file: the network (None if unusable) and the diagnostics found."""
    lowerer = _Lowerer(source)
    net = lowerer.lower(file)
    # A mistake in a block's body is found once per instance; it is one mistake, reported once.
    return net, list(dict.fromkeys(lowerer.diags))
