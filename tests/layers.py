#!/usr/bin/env python3
"""The import graph of src/, checked: no circle between files or folders, and no import back up a
layer. Reads `use` lines and `crate::`/`super::` paths (re-exports followed to the file that
defines the item; `#[cfg(test)] mod tests` left out). Exit 1 with each circle and each upward
import named; `-v` prints every file's imports. Run by tests/layers.rs; usable alone:
`python3 tests/layers.py [-v]`."""
import collections
import os
import re
import sys

# The crate's layers, lowest first: a module imports only from layers below its own (and from
# within itself). `plan` and `remote` share a layer and never import each other.
LAYERS = [
    ["exit", "quote", "platform", "ssh_command"],
    ["prompt"],
    ["env", "exchange"],
    ["settings"],
    ["cli", "profile"],
    ["answers", "answers_file", "local"],
    ["plan", "remote"],
    ["course_file"],
    ["ui"],
    ["exec"],
    ["error"],
    ["commands"],
    ["lib"],
]
root=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
files={}
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(d,f); rel=os.path.relpath(p,root)
            parts=rel[:-3].split('/')
            if parts[-1] in('mod','lib','main'): parts=parts[:-1]
            files[tuple(parts)]=p
def strip(text):
    # drop #[cfg(test)] mod tests {...} at end and comments
    text=re.sub(r'//[^\n]*','',text)
    i=text.find('#[cfg(test)]\nmod tests')
    if i<0: i=text.find('#[cfg(test)]\n    mod tests')
    return text[:i] if i>=0 else text
src={m:strip(open(p).read()) for m,p in files.items()}
defs={m:set(re.findall(r'\b(?:struct|enum|fn|trait|const|static|type|mod|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)',s)) for m,s in src.items()}
def expand(path):
    # expand a::{b, c::{d,e}} into list
    path=re.sub(r'\s+','',path)
    m=re.match(r'^(.*?)\{(.*)\}$',path)
    if not m: return [path]
    pre,inner=m.group(1),m.group(2)
    out=[];depth=0;cur=''
    for ch in inner:
        if ch=='{':depth+=1
        if ch=='}':depth-=1
        if ch==',' and depth==0: out.append(cur);cur=''
        else: cur+=ch
    if cur: out.append(cur)
    res=[]
    for o in out:
        res+=expand(pre+o)
    return res
reexp={}
for m,s in src.items():
    r=[]
    for u in re.findall(r'pub(?:\([a-z]+\))?\s+use\s+([^;]+);',s):
        r+=expand(u)
    reexp[m]=r
def mod_of(m):  # module tuple for a file; for non-mod.rs files module is itself
    return m
def is_dir(m):
    return files.get(m,'').endswith(('mod.rs','lib.rs'))
def resolve(cur,path,depth=0):
    segs=[x for x in path.split('::') if x]
    if not segs: return None
    if segs[0]=='crate': base=();segs=segs[1:]
    elif segs[0]=='super':
        base=cur
        while segs and segs[0]=='super':
            base=base[:-1]; segs=segs[1:]
    elif segs[0]=='self':
        base=cur if is_dir(cur) else cur;segs=segs[1:]
    else:
        # relative child module
        base=cur if is_dir(cur) else None
        if base is None: return None
        if base+(segs[0],) not in files: return None
    m=base
    i=0
    while i<len(segs) and m+(segs[i],) in files:
        m=m+(segs[i],); i+=1
    if i==len(segs) or segs[i] in('*','self'): return m
    name=segs[i]
    if depth<5 and name not in defs.get(m,set()):
        for r in reexp.get(m,[]):
            last=r.split('::')[-1]
            if ' as ' in r or 'as' in last: pass
            if last==name or last=='*':
                t=resolve(m,r if last==name else r[:-3]+'::'+name,depth+1)
                if t and (last==name or name in defs.get(t,set()) or t!=m):
                    if last=='*' and name not in defs.get(t,set()): continue
                    return t
    return m
edges=collections.defaultdict(set)
for m,s in src.items():
    paths=[]
    for u in re.findall(r'\buse\s+([^;]+);',s):
        paths+=expand(u)
    paths+=re.findall(r'\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)(?![A-Za-z0-9_]|::\{)',s)
    if is_dir(m):
        for nm in re.findall(r'(?<![:\w])([a-z_][a-z0-9_]*)::[A-Za-z_]',s):
            if m+(nm,) in files: paths.append(nm+'::x')
    for p in paths:
        p=p.split(' as ')[0]
        t=resolve(m,p)
        if t is not None and t!=m and t!=():
            edges[m].add(t)
    # mod declarations are not deps
# file-level cycles (SCC)
def scc(nodes,edges):
    idx={};low={};st=[];on=set();res=[];c=[0]
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
        for w in edges.get(v,()):
            if w not in idx: sc(w);low[v]=min(low[v],low[w])
            elif w in on: low[v]=min(low[v],idx[w])
        if low[v]==idx[v]:
            comp=[]
            while True:
                w=st.pop();on.discard(w);comp.append(w)
                if w==v:break
            res.append(comp)
    for v in nodes:
        if v not in idx: sc(v)
    return [c for c in res if len(c)>1]
name = lambda m: '/'.join(m) or 'lib'
rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
problems = []
for c in scc(list(files), edges):
    problems.append('circle of files: ' + ' -> '.join(sorted(name(x) for x in c)))
dirs = set(m[:k] for m in files for k in range(len(m)))
for d in sorted(dirs):
    e = collections.defaultdict(set)
    for a, ts in edges.items():
        for b in ts:
            if a[:len(d)] == d and b[:len(d)] == d and len(a) > len(d) and len(b) > len(d) and a[len(d)] != b[len(d)]:
                e[a[:len(d) + 1]].add(b[:len(d) + 1])
    ns = set(e) | set(x for v in e.values() for x in v)
    for c in scc(list(ns), e):
        problems.append('circle of folders in ' + name(d) + ': ' + ' -> '.join(sorted(name(x) for x in c)))
for a, ts in sorted(edges.items()):
    for b in sorted(ts):
        ta, tb = name(a[:1]), name(b[:1])
        if ta == tb:
            continue
        if ta not in rank or tb not in rank:
            problems.append(f'{name(a)} -> {name(b)}: {ta if ta not in rank else tb} is in no layer (tests/layers.py)')
        elif rank[tb] >= rank[ta]:
            problems.append(f'{name(a)} imports {name(b)}: {tb} is not below {ta}')
if '-v' in sys.argv:
    for a in sorted(edges):
        print(name(a), '->', ' '.join(sorted(name(b) for b in edges[a])))
print(f'{len(files)} files, {sum(len(v) for v in edges.values())} imports between them, {len(problems)} problems')
for p in problems:
    print('  ' + p)
sys.exit(1 if problems else 0)
