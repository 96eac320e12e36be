# The console's words in Spanish. Every key is in both files (checked by
# butler-server's i18n tests, which also check that every key the
# templates use exists). Keys are the template's `c.t("key")` names;
# terms of the library (states, roles, steps...) are `kind-value`.

app = Butler
login = Iniciar sesión
logout = Cerrar sesión
user = Usuario
password = Contraseña
bad_login = Usuario o contraseña incorrectos
too_many = Demasiados intentos; espere e intente de nuevo
requests = Solicitudes
new_request = Nueva solicitud
groups = Grupos de migración
users = Usuarios
my_account = Mi cuenta
state = Estado
all = Todos
requester = Solicitante
approver = Aprobador
from = Desde
to = Hasta
filter = Filtrar
export = Exportar a Excel
total = Total
previous = Anterior
next = Siguiente
created = Creada
vm_name = Nombre de la VM
sockets = Sockets
cores_per_socket = Núcleos por socket
ram_gib = RAM (GiB)
division = División
unit = Unidad de gestión
environment = Ambiente
disk_type = Tipo de disco
cluster = Clúster
disks_gib = Discos (GiB, separados por comas)
nics = Redes (VLAN)
image = Imagen
none = Ninguna
backup_local = Respaldo local
backup_remote = Respaldo remoto
cdrom = CD-ROM
special_requirement = Requerimiento especial
lease_days = Arrendamiento (días)
lease_end = Fin del arrendamiento
no_lease = Sin fin
extend_lease = Extender el arrendamiento
extend_until = Nuevo fin
ask_extend = Solicitar la extensión
lease_hint = Vacío: sin fin, o el máximo del entorno. Al terminar, la VM se retira.
save_draft = Guardar borrador
save = Guardar
submit = Enviar a aprobación
estimate = Costo mensual estimado
cost_center = Centro de costo
project = Proyecto
history = Historial
steps = Pasos de aprovisionamiento
actions = Acciones
edit = Editar
review = Revisar
approve = Aprobar
reject = Rechazar
cancel = Cancelar
cancel_request = Cancelar la solicitud
confirm_cancel = Sí, cancelarla para siempre
retry = Reintentar
reason = Motivo
stale = Otra persona cambió esta solicitud primero; esta es la versión actual.
problems = Corrija lo indicado
not_found = No encontrado
denied = No permitido
name = Nombre
create = Crear
find = Buscar
source = Origen
destination = Destino
set_clusters = Fijar clústeres
switch = Invertir
clone = Clonar
rename = Renombrar
delete = Eliminar
add_vm = Agregar VM
search_vms = Buscar VMs del clúster de origen
remove = Quitar
selected = Seleccionada
select = Seleccionar
deselect = Quitar selección
refresh = Actualizar datos
facts = Datos de la plataforma
age = Antigüedad
catalog_from_platform = Catálogo leído de la plataforma
validate = Validar
migrate = Migrar
group_power_off = Butler apaga las VMs encendidas antes de migrarlas y las enciende en el destino
save_power = Guardar
group_live = Las VMs encendidas se mueven sin apagarlas (migración en caliente, vMotion)
confirm_power_off = Apagar las VMs encendidas (se avisa a sus dueños) y encenderlas en el destino:
errors = Errores
warnings = Advertencias
infos = Información
progress = Progreso
reports = Informes
report = Informe
retry_failed = Reintentar las fallidas
done = Terminado
roles = Roles
disabled = Deshabilitado
add_user = Agregar usuario
change_password = Cambiar contraseña
current_password = Contraseña actual
new_password = Nueva contraseña
catalog = Catálogo y tarifas
language = English
powered_on = Encendida
protection_domain = Dominio de protección
last_replica = Última réplica
outcome = Resultado
apply = Aplicar
enable = Habilitar
disable = Deshabilitar
saved = Guardado
rules = Reglas de aprobación
rules_version = Versión
rules_none = Sin reglas: cada solicitud necesita un aprobador
rules_changed = Cambiadas por
rules_edit = Reglas (TOML)
rules_history = Versiones anteriores
rules_count = Reglas
queue = Por aprobar
quotas = Cuotas
quotas_none = Sin cuotas ni consumo
quota_scope = Ámbito
quota_use = Uso / límite
quota_vms = VMs
quota_request = Cuota con esta solicitud
quota_after = con esta solicitud
storage_gib = Disco (GiB)
monthly_cost = Costo mensual
queue_empty = Nada espera su aprobación
showback = Costo real
showback_period = Período
showback_show = Mostrar
showback_none = Ninguna VM existió en el período
showback_actual = Real
showback_estimate = Estimado
showback_difference = Diferencia
showback_days = Días
showback_days_off = Días apagada
showback_month = Mes
showback_by_cc = Por centro de costo
showback_lines = Por VM
showback_chart = Costo real y estimado por mes
showback_total = Total del período
showback_unpriced = Sin precio
showback_more = Se muestran las primeras líneas; descargue el resto
showback_closed = Meses cerrados
showback_closed_by = cerrado por
showback_close = Cerrar mes
showback_close_help = Un mes cerrado no cambia nunca más, aunque cambien las tarifas
download_csv = Descargar CSV
download_xlsx = Descargar Excel
level = Nivel
vms = Mis VMs
owner = Propietario
power = Energía
drift = Cambios fuera de Butler
power_on = Encender
power_off = Apagar
restart = Reiniciar
power_on_state = Encendida
power_off_state = Apagada
power_unknown_state = Desconocido
power_done = Hecho
power_already = Ya estaba así
vm = Máquina virtual
lifecycle = Ciclo de vida
vcpus = vCPU
when = Cuándo
who = Quién
what = Qué
reconfigure = Cambiar recursos
reconfigure_help = Separe discos y VLAN con comas; los discos solo crecen.
accept_downtime = Acepto que se apague si el cambio lo necesita
ask_change = Solicitar el cambio
retire = Retirar
retire_help = Se apaga, se quita de la protección, la monitorización y la facturación, y se borra, tras la aprobación.
ask_retire = Solicitar el retiro
not_changeable = Esta VM ya no se puede cambiar.
kept_until = Conservada apagada hasta
not_refreshed = Sin actualizar aún
stale_form = El formulario caducó o no es de este sitio: vuelva a intentarlo.
restore = Restaurar
restore_help = Se enciende y vuelve a la protección, la monitorización y la facturación, sin aprobación.

# state: the library's names
state-created = Creada
state-requested = Solicitada
state-reviewed = Revisada
state-approved = Aprobada
state-provisioning = Aprovisionando
state-completed = Completada
state-error = Error
state-rejected = Rechazada
state-cancelled = Cancelada

# role: the library's names
role-requester = Solicitante
role-approver = Aprobador
role-viewer = Consulta
role-operator = Operador
role-admin = Administrador

# step: the library's names
step-create_vm = Crear la VM
step-protect = Proteger
step-monitor = Monitorizar
step-bill = Facturar
step-inventory = Inventariar
step-power_off = Apagar
step-unprotect = Quitar la protección
step-deregister = Quitar de la monitorización
step-stop_billing = Dejar de facturar
step-delete_vm = Borrar la VM
step-retire = Retirar
step-check_change = Comprobar el cambio
step-power_off_for_change = Apagar para el cambio
step-apply_change = Aplicar el cambio
step-verify_change = Verificar el cambio
step-power_on_after_change = Encender tras el cambio
step-update_billing = Actualizar la facturación
step-record_change = Registrar el cambio
step-extend_lease = Ampliar el plazo
step-restore_power = Volver a encender
step-reprotect = Volver a proteger
step-reregister = Volver a monitorizar
step-resume_billing = Reanudar la facturación
step-reactivate = Reactivar

# action: the library's names
action-create = Creación
action-save = Guardado
action-submit = Envío
action-cancel = Cancelación
action-review = Revisión
action-reject = Rechazo
action-approve = Aprobación
action-start_provisioning = Inicio del aprovisionamiento
action-step_retry = Reintento de paso
action-step_done = Paso hecho
action-fail = Fallo
action-retry = Reintento

# phase: the library's names
phase-started = empezado
phase-succeeded = hecho
phase-failed = fallido

# lifecycle: the library's names
lifecycle-active = Activa
lifecycle-retiring = Retirándose
lifecycle-retired = Retirada

# finding: a migration finding's sentence ($vm, $pg, $src, $dst, $cluster,
# $project, $has_project, $minutes)
finding-missing_source = El grupo no tiene clúster de origen
finding-missing_destination = El grupo no tiene clúster de destino
finding-same_clusters = El origen y el destino son ambos «{ $src }»
finding-empty_group = El grupo no tiene VM
finding-no_selected_vm = No hay ninguna VM seleccionada para migrar
finding-vm_not_found = La VM «{ $vm }» no está en la plataforma (actualice los datos si se acaba de añadir)
finding-not_on_source = La VM «{ $vm }» está en «{ $cluster }», no en el origen «{ $src }»
finding-project_mismatch = { $has_project ->
    [yes] La VM «{ $vm }» está en el proyecto «{ $project }», que no puede usar el clúster «{ $cluster }»
   *[no] La VM «{ $vm }» no tiene proyecto
}
finding-powered_on = La VM «{ $vm }» no está apagada (encendida, en pausa, suspendida o desconocida); apáguela primero
finding-no_protection_group = La VM «{ $vm }» no está en ningún dominio de protección
finding-group_not_active_on_source = El dominio de protección «{ $pg }» de la VM «{ $vm }» no está activo en «{ $src }»
finding-no_schedule = El dominio de protección «{ $pg }» de la VM «{ $vm }» no tiene programación de réplica
finding-not_replicating_to_destination = El dominio de protección «{ $pg }» de la VM «{ $vm }» no replica a «{ $dst }»
finding-group_has_unselected_vms = El dominio de protección «{ $pg }» de la VM «{ $vm }» contiene VM no seleccionadas en este grupo; también se moverían
finding-no_replica = El dominio de protección «{ $pg }» de la VM «{ $vm }» aún no tiene réplica; la migración tardará más
finding-stale_replica = La última réplica del dominio de protección «{ $pg }» (VM «{ $vm }») tiene { $minutes } minutos; la migración puede tardar más
finding-shared_group = Varias VM seleccionadas comparten el dominio de protección «{ $pg }»; una sola migración las mueve todas
finding-not_selected = La VM «{ $vm }» no está seleccionada para migrar
finding-power_off_planned = La VM «{ $vm }» no está apagada: Butler la apaga antes de migrarla (se avisa a su propietario) y la vuelve a encender en «{ $dst }»
finding-platform_refuses = La plataforma se niega a mover la VM «{ $vm }» a «{ $dst }»: { $reasons }
finding-moves_not_checked = La plataforma aún no ha evaluado los movimientos a «{ $dst }» tal como los pide el grupo; actualice los datos
finding-live_moves_unavailable = El grupo pide movimientos en caliente, que la plataforma no hace; mueva las VM en frío

# spec: a problem of a VM spec, with the values it names
spec-name_empty = El nombre de la VM es obligatorio
spec-name_too_long = Como máximo { $max } caracteres
spec-name_invalid = Use letras ASCII, cifras, «-», «_» y «.», empezando por una letra o una cifra
spec-cores_per_socket_out_of_range = Debe estar entre 1 y { $max }
spec-sockets_out_of_range = Debe estar entre 1 y { $max }
spec-vcpus_out_of_range = { $cores } núcleos por socket × { $sockets } sockets = { $vcpus } vCPU, más de { $max }
spec-ram_out_of_range = Debe estar entre 1 y { $max } GiB
spec-unknown_division = División desconocida «{ $value }»
spec-unknown_unit = Unidad desconocida «{ $value }»
spec-unit_not_in_division = La unidad «{ $value }» es de la división «{ $division }», no de «{ $asked }»
spec-unknown_environment = Entorno desconocido «{ $value }»
spec-unknown_disk_type = Tipo de disco desconocido «{ $value }»
spec-no_cost_center = No hay centro de coste para la división «{ $division }», la unidad «{ $unit }», el entorno «{ $environment }» y el tipo de disco «{ $disk_type }»
spec-unknown_cluster = Clúster desconocido «{ $value }»
spec-disk_count_out_of_range = { $count } discos; una VM tiene de 1 a { $max }
spec-disk_size_out_of_range = { $value } GiB; un disco tiene de 1 a { $max } GiB
spec-nic_count_out_of_range = { $count } tarjetas de red; una VM tiene de 1 a { $max }
spec-nic_vlan_not_allowed = La VLAN «{ $value }» no está disponible para el proyecto «{ $project }» del entorno «{ $environment }»
spec-nic_duplicate = Otra tarjeta de red ya usa la VLAN «{ $value }»
spec-unknown_image = Imagen desconocida «{ $value }»
spec-note_too_long = { $count } caracteres; como máximo { $max }
spec-cluster_not_allowed = El proyecto «{ $project }» del entorno «{ $environment }» no puede usar el clúster «{ $value }»
spec-nic_vlan_not_on_cluster = La VLAN «{ $value }» no existe en el clúster «{ $cluster }»
spec-disk_type_not_on_cluster = El tipo de disco «{ $disk_type }» va al contenedor «{ $container }», que el clúster «{ $cluster }» no tiene
spec-environment_category_missing = La categoría «{ $category }» del entorno «{ $value }» no existe en la plataforma
spec-fixed_on_reconfigure = «{ $field }» no puede cambiar en una VM existente
spec-disk_shrinks = { $case ->
    [removed] El disco { $disk } ({ $was } GiB) no se puede quitar
   *[shrinks] El disco { $disk } no puede encoger ({ $was } → { $now } GiB)
}
spec-nothing_changed = El cambio deja CPU, RAM, discos y tarjetas de red como están
spec-lease_out_of_range = { $case ->
    [not_after_end] { $until } no es posterior al fin actual del plazo, { $end }
    [too_far] { $until } está a más de { $max } días de hoy, el plazo más largo del entorno «{ $environment }»
   *[range] { $days } días; se permiten plazos de 1 a { $max } días
}

# denied: why the library refused ($actor, $roles, $state)
denied-missing_role = { $actor } no puede hacerlo: necesita el rol { $roles }
denied-not_owner = Solo el propietario de la solicitud puede hacerlo
denied-own_request = Cuatro ojos: nadie revisa, aprueba ni rechaza su propia solicitud
denied-not_visible = { $actor } no puede ver esta solicitud
denied-wrong_state = No es posible en el estado «{ $state }»
denied-final = La solicitud está en un estado final («{ $state }»)
denied-engine_only = Solo el motor de aprovisionamiento de Butler hace esto, nunca un usuario
denied-wrong_step = Ese no es el paso en que está el aprovisionamiento
denied-not_editable = Este tipo de solicitud no se puede editar
denied-not_at_level = { $actor } no es aprobador del nivel que espera esta solicitud
denied-approved_already = Cuatro ojos en cada nivel: { $actor } ya aprobó esta solicitud en un nivel anterior

# outcome: a VM's line in a migration report
outcome-migrated = Migrada
outcome-failed = Fallida
outcome-skipped = Omitida
outcome-post_move_pending = Pendiente tras moverla
outcome-still_running = Aún en curso

# severity: of a migration finding
severity-error = Error
severity-warning = Aviso
severity-info = Información

# said: a line the library writes (a VM's history, a report's note);
# values as butler::said::SaidCode names them, $parts the lines it is
# made of.
said-text = { $text }
said-provisioned = creada por la solicitud { $request }
said-adopted = adoptada para { $owner }, centro de coste { $cost_center }
said-asked = { $kind ->
        [new_vm] VM nueva
        [decommission] Retiro
        [reconfigure] Cambio
        [extend_lease] Ampliación del arrendamiento
        [delete_after_grace] Borrado tras el periodo de gracia
        [restore] Restauración
       *[other] { $kind }
    } solicitado: solicitud { $request }
said-lease_extension_asked = ampliación del arrendamiento hasta { $until } solicitada por la solicitud { $request }
said-lease_extended = arrendamiento ampliado hasta { $until } por la solicitud { $request }
said-restored = restaurada por la solicitud { $request }
said-retiring = retirándose por la solicitud { $request }
said-retired = retirada por la solicitud { $request }
said-kept_off = apagada hasta { $until } (periodo de gracia): puede restaurarse hasta entonces; después se borra
said-lease_over = el arrendamiento terminó el { $ended }: retirada por la solicitud { $request }
said-grace_over = periodo de gracia terminado: borrada por la solicitud { $request }
said-reconfigured = cambiada por la solicitud { $request }
said-lease_notice = aviso de arrendamiento: quedan { $days } día(s)
said-lease_ended = aviso de arrendamiento: terminado
said-power_done = { $change ->
        [on] encender
        [guest_shutdown] apagar
        [hard_off] apagado forzado
        [guest_restart] reiniciar
       *[other] { $change }
    }: hecho
said-power_already = { $change ->
        [on] encender
        [guest_shutdown] apagar
        [hard_off] apagado forzado
        [guest_restart] reiniciar
       *[other] { $change }
    }: ya estaba { $power ->
        [on] encendida
        [off] apagada
       *[other] { $power }
    }
said-power_forced_off = { $change ->
        [guest_shutdown] apagar
       *[other] { $change }
    }: el sistema invitado no se detuvo en { $secs } s; apagada a la fuerza
said-power_still_on = { $change ->
        [guest_shutdown] apagar
       *[other] { $change }
    }: el sistema invitado no se detuvo en { $secs } s; sigue encendida
said-reconcile_power = conciliación: { $power ->
        [on] encendida
        [off] apagada
       *[other] { $power }
    }
said-reconcile_matches = conciliación: vuelve a coincidir con la plataforma
said-reconcile_drift = conciliación: { $parts }
said-drift_deleted = borrada fuera de Butler
said-drift_resized = redimensionada fuera de Butler: { $recorded } registrado, { $found } encontrado
said-drift_moved = movida fuera de Butler de { $from } a { $to }
said-migrated = migrada de { $from } a { $to } por la ejecución { $run }
said-migration_powered_off = apagada por la ejecución de migración { $run }
said-migration_powered_on = encendida de nuevo en { $cluster } por la ejecución de migración { $run }
said-left_off_while_moved = se deja apagada mientras la plataforma la mueve
said-left_off_while_migrated = se deja apagada mientras la plataforma la migra
said-powered_off_guest = apagada antes de migrar (apagado del sistema invitado)
said-powered_off_forced = apagada antes de migrar (el sistema invitado no se apagó en { $secs } s: corte de energía)
said-running_on = encendida en { $cluster }{ $because ->
        [pg] { " " }(su dominio de protección no se movió)
        [vm] { " " }(no se movió)
       *[other] { "" }
    }
said-powered_on_again = encendida de nuevo en { $cluster }{ $because ->
        [pg] { " " }(su dominio de protección no se movió)
        [vm] { " " }(no se movió)
       *[other] { "" }
    }
said-left_off = se deja apagada: { $reason }
said-project_remapped = proyecto { $from } → { $to }
said-project_kept = se mantiene el proyecto { $project }
said-no_project = sin proyecto
said-schedules_recreated = { $count } programación(es) de protección recreada(s)
said-accounted_when_closed = contabilizada al cerrar la ejecución interrumpida
said-found_when_closed = encontrada en el destino al cerrar la ejecución interrumpida
said-on_destination = en { $cluster }
said-post_move_only = ya estaba en el destino antes de esta ejecución: solo los pasos posteriores
said-on_destination_although = en el destino a pesar de: { $reason }
said-vm_found = encontrada la VM { $vm } ({ $uuid }) creada antes
said-vm_created = creada la VM { $vm } ({ $uuid })
said-skipped_by_configuration = omitido por la configuración
said-no_protection_groups = omitido: la plataforma no tiene grupos de protección
said-no_backups = sin respaldos solicitados
said-protected_by_policy = protegida por política ({ $group })
said-protected_in = protegida en { $group } con { $count } programación(es)
said-already_registered = ya estaba registrada
said-registered = registrada con la dirección { $address }
said-already_billed = la facturación ya estaba activa
said-billed = facturación activa para el centro de coste { $cost_center }
said-recorded = registrada en el inventario como { $vm }
said-already_recorded = ya estaba en el inventario como { $vm }
said-already_gone = ya no estaba en la plataforma
said-already_off = ya estaba apagada
said-cannot_power = omitido: la plataforma no enciende ni apaga VMs (el borrado la apaga)
said-gone_from_platform = ya no está en la plataforma
said-guest_shut_down = el sistema invitado se apagó
said-powered_off_after = apagada a la fuerza (el sistema invitado no se apagó en { $secs } s)
said-in_no_protection_group = no estaba en ningún grupo de protección
said-unprotected = quitada de los grupos de protección { $groups }
said-not_registered = no estaba registrada
said-registration_of_other = el registro de { $vm } es de otra VM ({ $uuid }): se mantiene
said-deregistered = dada de baja en la monitorización
said-not_billed = no se facturaba
said-billing_stopped = facturación detenida para el centro de coste { $cost_center } después del { $end }
said-vm_deleted = borrada la VM { $vm } ({ $uuid })
said-gone = ya no está
said-recorded_retired = { $parts }; registrada como retirada en el inventario
said-already_recorded_retired = { $parts }; ya estaba registrada como retirada
said-kept_until = apagada hasta { $until }: se borra entonces salvo que se restaure
said-retiring_kept = retirándose: se mantiene hasta { $until } y después se borra
said-already_on = ya estaba encendida
said-powered_on = encendida
said-already_protected = ya estaba protegida en { $group }
said-registered_again = registrada de nuevo con la dirección { $address }
said-billed_again = facturación activa de nuevo para el centro de coste { $cost_center }
said-recorded_active = registrada como activa en el inventario
said-already_recorded_active = ya estaba registrada como activa
said-lease_now_ends = el arrendamiento termina ahora el { $until }
said-lease_already_ends = el arrendamiento ya terminaba el { $until }, o la VM está retirada
said-needs_off = necesita la VM apagada: { $why }
said-applies_as_is = se puede aplicar con la VM como está
said-not_needed = no hace falta
said-already_applied = ya estaba aplicado
said-applied = { $vcpus } vCPU, { $ram } GiB de RAM, discos { $disks } GiB, redes { $nics } (antes { $was_vcpus } vCPU, { $was_ram } GiB, { $was_disks }, { $was_nics })
said-change_shown = la plataforma muestra el cambio
said-not_powered_off = no hace falta: el flujo no la apagó
said-powered_back_on = encendida de nuevo
said-billing_changed = facturación de { $total } { $currency } al mes desde el { $from }
said-recorded_change = registrado en el inventario
said-already_recorded_change = ya estaba registrado

# estimate lines: what is priced, per what, and the line's arithmetic
cost_item-vcpu = vCPU
cost_item-ram_gib = GiB de RAM
cost_item-disk_gib = GiB de disco { $type }
cost_item-backup_local_gib = GiB de respaldo local
cost_item-backup_remote_gib = GiB de respaldo remoto
cost_item-cdrom = CD-ROM
cost_item-nic = Tarjeta de red
cost_item-image = Imagen de arranque
per-hour = hora
per-day = día
per-month = mes
estimate_line = { $item }: { $rate }/{ $per } × { $periods } × { $quantity } = { $amount }
estimate_unpriced = { $item }: sin tarifa × { $quantity } = 0

# the rule book's decision, in a request's history ($first: who
# decided, $rest: the levels, each a said line)
said-step_succeeded = { $step } hecho: { $parts }
said-step_attempt_failed = { $step } #{ $attempt } fallido: { $reason }
said-rules_approve = aprobada automáticamente por { $first } (reglas v{ $version })
said-rules_refuse = rechazada por { $first } (reglas v{ $version }): { $reason }
said-rules_require = necesita la aprobación de { $rest } ({ $first }, reglas v{ $version })
said-no_rule_matched = ninguna regla coincidió
said-by_rule = la regla { $rules }
said-by_rules = las reglas { $rules }
said-level_role = { $role ->
        [requester] Solicitante
        [approver] Aprobador
        [viewer] Consulta
        [operator] Operador
        [admin] Administrador
       *[other] { $role }
    }
said-level_users = { $role ->
        [requester] Solicitante
        [approver] Aprobador
        [viewer] Consulta
        [operator] Operador
        [admin] Administrador
       *[other] { $role }
    } ({ $users })
said-level_unit = { $role ->
        [requester] Solicitante
        [approver] Aprobador
        [viewer] Consulta
        [operator] Operador
        [admin] Administrador
       *[other] { $role }
    } (de la unidad)
said-level_division = { $role ->
        [requester] Solicitante
        [approver] Aprobador
        [viewer] Consulta
        [operator] Operador
        [admin] Administrador
       *[other] { $role }
    } (de la división)

then_sep = {", luego "}

# refusals of a change by the VM's state
said-just_asked = otra solicitud acaba de pedir un cambio de la VM { $vm }: vuelva a cargarla
said-change_open = la VM { $vm } tiene abierta la solicitud { $request } ({ $kind ->
        [new_vm] VM nueva
        [decommission] retiro
        [reconfigure] cambio
        [extend_lease] ampliación del arrendamiento
        [delete_after_grace] borrado tras el periodo de gracia
        [restore] restauración
       *[other] { $kind }
    }, { $state ->
        [created] creada
        [requested] solicitada
        [reviewed] revisada
        [approved] aprobada
        [provisioning] en curso
       *[other] { $state }
    }): espere a que termine o pida a un aprobador que la rechace
said-no_lease_end = la VM { $vm } no tiene fin de arrendamiento que ampliar
said-retiring_at_lease_end = la VM { $vm } se está retirando al terminar su arrendamiento (solicitud { $request })
said-not_restorable = la VM { $vm } está { $lifecycle ->
        [active] activa
        [retiring] retirándose
        [retired] retirada
       *[other] { $lifecycle }
    }: solo se puede restaurar una VM apagada en el periodo de gracia de su retiro
said-deletion_asked = Butler ya pidió borrar la VM { $vm } (solicitud { $request }): ya no se puede restaurar
said-grace_ended = el periodo de gracia de la VM { $vm } terminó el { $until }: ya no se puede restaurar
said-being_restored = la VM { $vm } se está restaurando con la solicitud { $request }
said-changed_meanwhile = la VM { $vm } cambió entretanto: vuelva a mirarla
said-not_active = la VM { $vm } está { $lifecycle ->
        [active] activa
        [retiring] retirándose
        [retired] retirada
       *[other] { $lifecycle }
    }: no se puede { $change ->
        [retire] retirar
        [extend] ampliar su arrendamiento
        [reconfigure] cambiar
       *[other] { $change }
    }
said-nothing_to_power = la VM { $vm } está retirada: no hay nada que encender ni apagar

# why Butler asks and approves a request itself
said-retire_at_lease_end = retirar { $vm } ({ $record }): su arrendamiento terminó el { $ended }
said-deployment_retires = la instalación retira las VMs al terminar su arrendamiento
said-delete_after_grace = borrar { $vm } ({ $record }): su retiro la mantuvo apagada hasta { $until }
said-grace_period_over = el periodo de gracia del retiro terminó
said-restore_in_grace = restaurar { $vm } ({ $record }) dentro de su periodo de gracia
said-undo_needs_no_approval = deshacer dentro del periodo de gracia no necesita aprobación

# why a migration group's edit was refused ($value: what was refused)
group_error-invalid_name = El nombre de grupo «{ $value }» no es válido: use de 1 a { $max_name } caracteres visibles, no solo espacios
group_error-same_clusters = El origen y el destino deben ser distintos (ambos «{ $value }»)
group_error-duplicate_vm = La VM «{ $value }» ya está en el grupo
group_error-unknown_vm = La VM «{ $value }» no está en el grupo
group_error-invalid_vm_name = El nombre de VM «{ $value }» no es válido: use de 1 a { $max_vm_name } caracteres sin caracteres de control, invisibles ni bidireccionales
group_error-too_many_vms = Un grupo tiene como máximo { $max_vms } VMs (se dieron { $value })

# bad input a migration names ($quoted: the name as the library quotes it)
said-vm_not_on_platform = la VM { $quoted } no está en la plataforma
said-vms_not_on_platform = la VM { $quoted } y { $more } más no están en la plataforma
said-cluster_not_on_platform = el clúster { $quoted } no está en la plataforma
said-run_no_failed = la ejecución { $run } no tiene VMs fallidas
said-run_ended = la ejecución { $run } ya terminó
