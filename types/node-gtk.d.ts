/** Minimal typing of node-gtk (GObject introspection for Node); used only inside core/media/worker/gst.ts. */
declare module 'node-gtk' {
  interface NodeGtk {
    require(namespace: string, version?: string): any;
  }
  const gi: NodeGtk;
  export default gi;
}
